"""Typed settings shared by every service.

Each service defines one ``Settings(ServiceSettings)`` with its own env prefix
(``GAS_JOBS_``, ``GAS_ANNOTATOR_`` ...). The parts every service shares are read
from their own prefixes so one environment configures the whole stack:

* ``GAS_ENVIRONMENT``, ``GAS_PREFIX`` and resource names (:class:`StackSettings`)
* ``GAS_AWS_*`` (:class:`AwsSettings`)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Long enough for HS256 (RFC 7518 §3.2), and refused outside development like any placeholder.
DEV_INTERNAL_JWT_SECRET = "gas-development-only-internal-jwt-secret"
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "dev", "dev-secret", "secret", DEV_INTERNAL_JWT_SECRET}
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class AwsSettings(BaseSettings):
    """Where the AWS APIs are. An empty endpoint means real AWS."""

    model_config = SettingsConfigDict(env_prefix="GAS_AWS_", extra="ignore")

    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    s3_path_style: bool = True


class StackSettings(BaseSettings):
    """Names of everything the services share, all prefixed per environment."""

    model_config = SettingsConfigDict(env_prefix="GAS_", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    prefix: str = Field(default="gas-dev", pattern=r"^[a-z0-9][a-z0-9-]{1,30}$")
    internal_jwt_secret: SecretStr = SecretStr(DEV_INTERNAL_JWT_SECRET)
    ses_sender: str = "gas-noreply@example.org"
    # Tier limits are on the VCF text a job holds once decompressed (the work it really is),
    # not on the bytes uploaded: a gzip of a few KiB can hold millions of variants. The
    # jobs service checks them at submit where it cheaply can; the annotator while it reads.
    free_size_limit_bytes: int = Field(
        default=150 * 1024, ge=1, description="free tier: most VCF text per job, decompressed"
    )
    premium_size_limit_bytes: int = Field(
        default=50 * 1024**3, ge=1, description="premium tier: most VCF text per job, decompressed"
    )
    free_window_seconds: int = 600

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        if self.environment is not Environment.DEVELOPMENT:
            refuse_placeholder("GAS_INTERNAL_JWT_SECRET", self.internal_jwt_secret)
        return self

    def size_limit_bytes(self, tier: str) -> int:
        """The most decompressed VCF text a job of ``tier`` ("free" or "premium") may hold."""
        return self.free_size_limit_bytes if tier == "free" else self.premium_size_limit_bytes

    def name(self, base: str) -> str:
        return f"{self.prefix}-{base}"

    @property
    def inputs_bucket(self) -> str:
        return self.name("inputs")

    @property
    def results_bucket(self) -> str:
        return self.name("results")

    @property
    def archive_bucket(self) -> str:
        return self.name("archive")

    @property
    def jobs_table(self) -> str:
        return self.name("annotations")

    @property
    def sent_mail_table(self) -> str:
        """The notifier's ledger of mails already sent (one item per event it mailed about)."""
        return self.name("sent-mail")

    @property
    def job_requests_topic(self) -> str:
        return self.name("job-requests")

    @property
    def job_events_topic(self) -> str:
        return self.name("job-events")

    @property
    def account_events_topic(self) -> str:
        return self.name("account-events")

    @property
    def annotator_queue(self) -> str:
        return self.name("annotator")

    @property
    def notifier_queue(self) -> str:
        return self.name("notifier")

    @property
    def archiver_queue(self) -> str:
        return self.name("archiver")

    @property
    def restore_queue(self) -> str:
        return self.name("archiver-restores")

    @staticmethod
    def dead_letter_queue(queue: str) -> str:
        """Where ``queue``'s messages go after failing too often (created with it)."""
        return f"{queue}-dlq"


def refuse_placeholder(variable: str, value: SecretStr) -> None:
    if value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(
            f"{variable} is a placeholder; set a real secret (e.g. `openssl rand -hex 32`) "
            "or run with GAS_ENVIRONMENT=development"
        )


class ServiceSettings(BaseSettings):
    """Base for each service's settings: HTTP bind address plus the shared parts."""

    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    tracing_exporter: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GAS_TRACING_EXPORTER"),
        description="otlp, console or jsonl:<folder>; unset = no tracing (gas_core.tracing)",
    )
    aws: AwsSettings = Field(default_factory=AwsSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
