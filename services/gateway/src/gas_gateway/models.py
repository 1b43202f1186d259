"""Schemas of the public and internal API (never the storage records themselves)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gas_core.tiers import Tier
from gas_gateway.accounts import ApiToken, User
from gas_gateway.payments import TEST_CARD_ACCEPTED


class UserPublic(BaseModel):
    id: str
    email: str
    name: str
    tier: Tier
    created_at: datetime
    upgraded_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            tier=user.tier,
            created_at=user.created_at,
            upgraded_at=user.upgraded_at,
        )


class UserInternal(BaseModel):
    """What the notifier and archiver need to know about a user."""

    id: str
    email: str
    name: str
    tier: Tier

    @classmethod
    def of(cls, user: User) -> UserInternal:
        return cls(id=user.id, email=user.email, name=user.name, tier=user.tier)


class UpgradeRequest(BaseModel):
    card_number: str = Field(
        min_length=12,
        max_length=32,
        description=f"Card number; in test mode use {TEST_CARD_ACCEPTED}.",
        examples=[TEST_CARD_ACCEPTED],
    )


class Problem(BaseModel):
    """An error answer: what was wrong and what to do."""

    detail: str


class LoggedOut(BaseModel):
    redirect: str = Field(description="where to send the browser: the provider's logout page")


class TokenCreate(BaseModel):
    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="A label to tell your tokens apart (no control characters)",
        examples=["laptop"],
    )


class TokenPublic(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenPublic:
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


class TokenCreated(TokenPublic):
    token: str = Field(description="The token itself: shown this once, store it now.")


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int
