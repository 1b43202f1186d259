"""PostgreSQL storage for users and API tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from gas_core.tiers import Tier

TOKEN_SCHEME = "gas"
TOKEN_PREFIX_CHARS = 8


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    tier: Tier
    created_at: datetime
    upgraded_at: datetime | None
    issuer: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


Db: TypeAlias = asyncpg.Pool | asyncpg.Connection

_USER_COLUMNS = "id, email, name, tier, created_at, upgraded_at, issuer, subject"
_TOKEN_COLUMNS = "id, name, prefix, created_at, last_used_at, revoked_at"


def _user(row: Any) -> User:
    return User(
        id=str(row["id"]),
        email=row["email"],
        name=row["name"],
        tier=Tier(row["tier"]),
        created_at=row["created_at"],
        upgraded_at=row["upgraded_at"],
        issuer=row["issuer"],
        subject=row["subject"],
    )


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=str(row["id"]),
        name=row["name"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def hash_secret(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


async def get_user(db: Db, user_id: str) -> User | None:
    try:
        key = uuid.UUID(user_id)
    except ValueError:
        return None
    row = await db.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", key)
    return _user(row) if row else None


async def get_user_by_email(db: Db, email: str) -> User | None:
    row = await db.fetchrow(
        f"SELECT {_USER_COLUMNS} FROM users WHERE lower(email) = lower($1)", email
    )
    return _user(row) if row else None


async def get_user_by_identity(db: Db, *, issuer: str, subject: str) -> User | None:
    row = await db.fetchrow(
        f"SELECT {_USER_COLUMNS} FROM users WHERE issuer = $1 AND subject = $2", issuer, subject
    )
    return _user(row) if row else None


async def list_users(db: Db) -> list[User]:
    rows = await db.fetch(f"SELECT {_USER_COLUMNS} FROM users ORDER BY created_at")
    return [_user(row) for row in rows]


async def insert_user(
    db: Db,
    *,
    email: str,
    name: str,
    tier: Tier,
    issuer: str | None = None,
    subject: str | None = None,
) -> User:
    row = await db.fetchrow(
        f"""INSERT INTO users (id, email, name, tier, issuer, subject, upgraded_at)
            VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $4 = 'premium' THEN now() END)
            RETURNING {_USER_COLUMNS}""",
        uuid.uuid4(),
        email,
        name,
        tier.value,
        issuer,
        subject,
    )
    return _user(row)


async def bind_identity(db: Db, *, user_id: str, issuer: str, subject: str, name: str) -> User:
    row = await db.fetchrow(
        f"""UPDATE users SET issuer = $2, subject = $3, name = CASE WHEN name = '' THEN $4 ELSE name END
            WHERE id = $1 AND issuer IS NULL RETURNING {_USER_COLUMNS}""",
        uuid.UUID(user_id),
        issuer,
        subject,
        name,
    )
    if row is None:
        raise LookupError(f"user {user_id} is already bound to another identity")
    return _user(row)


async def update_profile(db: Db, *, user_id: str, email: str, name: str) -> User:
    row = await db.fetchrow(
        f"UPDATE users SET email = $2, name = $3 WHERE id = $1 RETURNING {_USER_COLUMNS}",
        uuid.UUID(user_id),
        email,
        name,
    )
    return _user(row)


async def set_tier(
    db: Db, *, user_id: str, tier: Tier, expected: Tier | None = None
) -> User | None:
    """Change the tier; with ``expected``, only if the user is still on that tier."""
    row = await db.fetchrow(
        f"""UPDATE users SET tier = $2,
                   upgraded_at = CASE WHEN $2 = 'premium' THEN now() ELSE upgraded_at END
            WHERE id = $1 AND ($3::text IS NULL OR tier = $3)
            RETURNING {_USER_COLUMNS}""",
        uuid.UUID(user_id),
        tier.value,
        expected.value if expected else None,
    )
    return _user(row) if row else None


def new_token_secret() -> tuple[str, str]:
    """A fresh API token and its visible prefix: ``gas_<prefix>_<secret>``."""
    prefix = secrets.token_hex(TOKEN_PREFIX_CHARS // 2)
    return f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}", prefix


async def insert_token(db: Db, *, user_id: str, name: str) -> tuple[ApiToken, str]:
    secret, prefix = new_token_secret()
    row = await db.fetchrow(
        f"""INSERT INTO api_tokens (id, user_id, name, prefix, token_hash)
            VALUES ($1, $2, $3, $4, $5) RETURNING {_TOKEN_COLUMNS}""",
        uuid.uuid4(),
        uuid.UUID(user_id),
        name,
        prefix,
        hash_secret(secret),
    )
    return _token(row), secret


async def list_tokens(db: Db, *, user_id: str) -> list[ApiToken]:
    rows = await db.fetch(
        f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at",
        uuid.UUID(user_id),
    )
    return [_token(row) for row in rows]


async def revoke_token(db: Db, *, user_id: str, token_id: str) -> bool:
    try:
        key = uuid.UUID(token_id)
    except ValueError:
        return False
    status = await db.execute(
        """UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
           WHERE id = $1 AND user_id = $2""",
        key,
        uuid.UUID(user_id),
    )
    return bool(status == "UPDATE 1")


async def user_for_token(db: Db, secret: str) -> User | None:
    """The owner of a live API token, recording that the token was used."""
    row = await db.fetchrow(
        f"""WITH used AS (
                UPDATE api_tokens SET last_used_at = now()
                WHERE token_hash = $1 AND revoked_at IS NULL RETURNING user_id)
            SELECT {_USER_COLUMNS} FROM users WHERE id = (SELECT user_id FROM used)""",
        hash_secret(secret),
    )
    return _user(row) if row else None
