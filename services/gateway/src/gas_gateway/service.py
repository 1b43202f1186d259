"""Account rules: who a signed-in identity is, upgrades, API tokens."""

from __future__ import annotations

import logging

import asyncpg

from gas_core.events import AccountTierChanged, TierChangedPayload
from gas_core.tiers import Tier
from gas_gateway import accounts
from gas_gateway.accounts import ApiToken, Db, User
from gas_gateway.oidc import Identity
from gas_gateway.outbox import enqueue
from gas_gateway.payments import PaymentProvider

log = logging.getLogger(__name__)


class AccountConflict(Exception):
    """The identity's email belongs to an account signed in through another identity."""


class PaymentDeclined(Exception):
    pass


class AlreadyPremium(Exception):
    pass


async def user_for_identity(db: asyncpg.Pool, *, identity: Identity) -> User:
    """The account of a signed-in identity. The first login creates it as free, unless an
    operator created an account for the same (verified) email beforehand: then it is bound."""
    user = await accounts.get_user_by_identity(db, issuer=identity.issuer, subject=identity.subject)
    if user is not None:
        return user
    if not identity.email:
        raise AccountConflict(
            "the identity provider did not share an email address; allow the 'email' scope"
        )
    existing = await accounts.get_user_by_email(db, identity.email)
    if existing is not None:
        if existing.issuer is None and identity.email_verified:
            log.info(
                "bound a pre-created account to its first login", extra={"user_id": existing.id}
            )
            return await accounts.bind_identity(
                db,
                user_id=existing.id,
                issuer=identity.issuer,
                subject=identity.subject,
                name=identity.name,
            )
        raise AccountConflict(
            f"an account for {identity.email} already exists under another sign-in; "
            "ask an operator to link it"
        )
    try:
        user = await accounts.insert_user(
            db,
            email=identity.email,
            name=identity.name,
            tier=Tier.FREE,
            issuer=identity.issuer,
            subject=identity.subject,
        )
    except asyncpg.UniqueViolationError:
        # Two first logins raced; the other one created the account.
        found = await accounts.get_user_by_identity(
            db, issuer=identity.issuer, subject=identity.subject
        )
        if found is None:
            raise
        return found
    log.info("created account", extra={"user_id": user.id})
    return user


async def change_tier(db: asyncpg.Pool, *, user: User, tier: Tier, topic: str) -> User:
    """Set the tier and record AccountTierChanged in the same transaction."""
    async with db.acquire() as connection, connection.transaction():
        changed = await accounts.set_tier(
            connection, user_id=user.id, tier=tier, expected=user.tier
        )
        if changed is None:
            current = await accounts.get_user(connection, user.id)
            if current is None:
                raise LookupError(f"user {user.id} no longer exists")
            return current
        if user.tier is not tier:
            await enqueue(
                connection,
                topic=topic,
                event=AccountTierChanged(
                    user_id=user.id,
                    payload=TierChangedPayload(old_tier=user.tier, new_tier=tier),
                ),
            )
        return changed


async def upgrade(
    db: asyncpg.Pool, *, payments: PaymentProvider, user: User, card_number: str, topic: str
) -> User:
    if user.tier is Tier.PREMIUM:
        raise AlreadyPremium("this account is already premium")
    payment = await payments.charge_upgrade(user_id=user.id, card_number=card_number)
    if not payment.accepted:
        raise PaymentDeclined(payment.message)
    upgraded = await change_tier(db, user=user, tier=Tier.PREMIUM, topic=topic)
    log.info("upgraded to premium", extra={"user_id": user.id, "payment": payment.reference})
    return upgraded


async def create_token(db: Db, *, user: User, name: str) -> tuple[ApiToken, str]:
    token, secret = await accounts.insert_token(db, user_id=user.id, name=name)
    log.info("created API token", extra={"user_id": user.id, "token_prefix": token.prefix})
    return token, secret
