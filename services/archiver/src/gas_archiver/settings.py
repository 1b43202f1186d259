from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from gas_core.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GAS_ARCHIVER_", extra="ignore")

    port: int = 8004
    gateway_url: str = Field(
        default="http://127.0.0.1:8005",
        description="The gateway's internal API (its GAS_GATEWAY_INTERNAL_PORT): "
        "where to ask for a user's current tier, GET /internal/users/{id}.",
    )
    storage_class: Literal["GLACIER", "DEEP_ARCHIVE"] = Field(
        default="GLACIER",
        description=(
            "Cold storage class. GLACIER (Flexible Retrieval) restores in minutes with "
            "Expedited retrieval; DEEP_ARCHIVE is cheaper but restores in 12+ hours."
        ),
    )
    single_copy_limit_bytes: int = Field(
        default=5 * 1000**3,
        ge=5 * 1024**2,
        le=5 * 1000**3,
        description=(
            "Results larger than this are copied to and from cold storage in parts "
            "(UploadPartCopy); S3 copies at most 5 GB in one CopyObject."
        ),
    )
    restore_days: int = Field(
        default=2, ge=1, description="How long S3 keeps the thawed copy of an archived object."
    )
    reconcile_interval_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "How often to look for restores that finished without an S3 event, and for "
            "archives left half-done."
        ),
    )
    stalled_archive_seconds: float = Field(
        default=3600.0,
        ge=0,
        description=(
            "An archive still ARCHIVING this long after it started lost its message (e.g. it "
            "went to the dead-letter queue); the periodic pass then finishes it."
        ),
    )
    visibility_seconds: int = Field(
        default=60,
        ge=2,
        description=(
            "SQS visibility while a message is worked on (renewed while it runs); after a "
            "crash the message, and its half-done archive, is taken up again this much later."
        ),
    )
    receive_wait_seconds: int = Field(
        default=10,
        ge=0,
        le=20,
        description="SQS long-poll wait; also how long a stop may wait for a poll to return.",
    )
