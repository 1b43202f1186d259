"""Typed, versioned events exchanged through SNS/SQS.

Every message is one envelope: ``type``, ``version``, ``event_id``, ``occurred_at``,
``job_id`` (the correlation id, when the event concerns a job), ``user_id`` and a typed
``payload``. Consumers parse with :func:`parse_event`; unknown types or versions are
rejected loudly so a producer upgrade cannot be silently misread.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from gas_core.tiers import Tier


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Envelope(_Model):
    version: Literal[1] = 1
    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=utcnow)
    job_id: str | None = None
    user_id: str

    def attributes(self) -> dict[str, str]:
        """SNS message attributes that subscriptions filter on."""
        attrs = {"type": str(getattr(self, "type"))}  # noqa: B009 - set by each subclass
        if self.job_id:
            attrs["job_id"] = self.job_id
        tier = getattr(getattr(self, "payload", None), "tier", None)
        if tier is not None:
            attrs["tier"] = str(tier)
        return attrs


class JobRequestedPayload(_Model):
    tier: Tier
    input_bucket: str
    input_key: str
    filename: str
    size_bytes: int
    build: str | None = None


class JobRequested(Envelope):
    type: Literal["job.requested"] = "job.requested"
    payload: JobRequestedPayload


class JobCompletedPayload(_Model):
    tier: Tier
    result_key: str
    log_key: str
    summary: dict[str, Any] = Field(default_factory=dict)


class JobCompleted(Envelope):
    type: Literal["job.completed"] = "job.completed"
    payload: JobCompletedPayload


class JobFailedPayload(_Model):
    tier: Tier
    reason: str


class JobFailed(Envelope):
    type: Literal["job.failed"] = "job.failed"
    payload: JobFailedPayload


class StoragePayload(_Model):
    tier: Tier


class JobArchived(Envelope):
    type: Literal["job.archived"] = "job.archived"
    payload: StoragePayload


class JobRestored(Envelope):
    type: Literal["job.restored"] = "job.restored"
    payload: StoragePayload


class TierChangedPayload(_Model):
    old_tier: Tier
    new_tier: Tier

    @property
    def tier(self) -> Tier:
        return self.new_tier


class AccountTierChanged(Envelope):
    type: Literal["account.tier_changed"] = "account.tier_changed"
    payload: TierChangedPayload


Event = Annotated[
    JobRequested | JobCompleted | JobFailed | JobArchived | JobRestored | AccountTierChanged,
    Field(discriminator="type"),
]

_event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(body: str | bytes) -> Event:
    """Parse one message body into its typed event; raises ``pydantic.ValidationError``."""
    return _event_adapter.validate_json(body)
