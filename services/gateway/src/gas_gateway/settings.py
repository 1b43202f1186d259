from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from gas_core.settings import Environment, ServiceSettings, refuse_placeholder
from gas_gateway.payments import PaymentProviderName


class Settings(ServiceSettings):
    """Gateway settings: env ``GAS_GATEWAY_*``, except the database, which is ``DATABASE_URL``."""

    model_config = SettingsConfigDict(env_prefix="GAS_GATEWAY_", extra="ignore")

    port: int = 8000
    internal_port: int = Field(
        default=8005,
        description="Port of the internal API (/internal/*) the notifier and archiver call; "
        "only other services may reach it, the public port answers 404 there.",
    )
    public_url_setting: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GAS_GATEWAY_PUBLIC_URL"),
        description="The URL users reach; defaults to http://<host>:<port>.",
    )
    jobs_url: str = "http://127.0.0.1:8001"
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/gas",
        validation_alias=AliasChoices("DATABASE_URL"),
    )

    oidc_issuer: str = "http://127.0.0.1:8010"
    oidc_client_id: str = "gas-gateway"
    oidc_client_secret: SecretStr = SecretStr("gas-dev-client-secret")
    oidc_scopes: str = "openid email profile"
    oidc_use_pkce: bool = True
    oidc_extra_authorize_params: dict[str, str] = Field(default_factory=dict)

    web_dist: Path = Field(
        default=Path(__file__).resolve().parents[3] / "web" / "dist",
        description="The built web app (npm run build in services/web), served at /.",
    )
    web_upload_origins: list[str] | None = Field(
        default=None,
        description="Origins the browser uploads to (the CSP's connect-src); defaults to the "
        "S3 endpoint of GAS_AWS_ENDPOINT_URL, else the region's S3 hosts.",
    )

    payment_provider_setting: PaymentProviderName | None = Field(
        default=None,
        validation_alias=AliasChoices("GAS_GATEWAY_PAYMENT_PROVIDER"),
        description="'test' (documented test cards, refused in production) or 'none' "
        "(operators upgrade accounts); unset = 'test' in development, else 'none'.",
    )

    rate_limit_per_credential: int = Field(
        default=1200, ge=1, description="requests a minute per API token or browser session"
    )
    rate_limit_per_ip: int = Field(
        default=2400, ge=1, description="requests a minute per client address"
    )
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        description="proxies in front that append to X-Forwarded-For (1 behind the ALB); "
        "0 = use the peer address",
    )

    session_ttl_seconds: int = 12 * 3600
    outbox_interval_seconds: float = 5.0

    @model_validator(mode="after")
    def _separate_ports(self) -> Self:
        if self.internal_port == self.port:
            raise ValueError(
                f"GAS_GATEWAY_INTERNAL_PORT ({self.internal_port}) must differ from "
                "GAS_GATEWAY_PORT: the internal API is never served on the public port"
            )
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.stack.environment is Environment.PRODUCTION:
            refuse_placeholder("GAS_GATEWAY_OIDC_CLIENT_SECRET", self.oidc_client_secret)
            if not (self.public_url_setting or "").startswith("https://"):
                raise ValueError("GAS_GATEWAY_PUBLIC_URL must be https:// in production")
            if self.payment_provider_setting is PaymentProviderName.TEST:
                raise ValueError(
                    "GAS_GATEWAY_PAYMENT_PROVIDER=test takes no real payment and is refused in "
                    "production; set it to 'none' (operators upgrade accounts)"
                )
        return self

    @property
    def payment_provider(self) -> PaymentProviderName:
        if self.payment_provider_setting is not None:
            return self.payment_provider_setting
        if self.stack.environment is Environment.DEVELOPMENT:
            return PaymentProviderName.TEST
        return PaymentProviderName.NONE

    @property
    def public_url(self) -> str:
        return (self.public_url_setting or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/auth/callback"

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")
