"""GAS gateway: public entry: OIDC login (BFF), accounts, API tokens, the public API."""
