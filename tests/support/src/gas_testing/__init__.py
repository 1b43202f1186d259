"""GAS test support, a dependency of the tests and of ``make dev`` only — never of a service.

* ``gas_testing.plugin`` — the pytest plugin every test tree shares (moto, stacks, PostgreSQL,
  services as real processes);
* ``gas_testing.gateway`` — pytest plugin and helpers for tests that run the gateway: the dev
  IdP, a fresh database per test, a browser-like login, accounts provisioned directly;
* ``gas_testing.localstack`` — starting moto and a private PostgreSQL cluster as processes;
* ``gas_testing.motoserver`` — the moto server with DynamoDB requests applied one at a time.
"""
