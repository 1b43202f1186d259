"""Server-side browser sessions and logins in progress (PostgreSQL)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from gas_gateway.accounts import Db, hash_secret

LOGIN_REQUEST_TTL_SECONDS = 600


@dataclass(frozen=True)
class Session:
    user_id: str
    csrf_token: str
    id_token: str | None


@dataclass(frozen=True)
class LoginRequest:
    state: str
    nonce: str
    code_verifier: str | None
    return_to: str


async def create_session(
    db: Db,
    *,
    user_id: str,
    ttl_seconds: int,
    id_token: str | None,
    access_token: str | None,
    refresh_token: str | None,
) -> tuple[str, Session]:
    """A new session; returns the id for the cookie (only its hash is stored) and the session."""
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    await db.execute(
        """INSERT INTO sessions (id_hash, user_id, csrf_token, id_token, access_token,
                                 refresh_token, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))""",
        hash_secret(session_id),
        uuid.UUID(user_id),
        csrf_token,
        id_token,
        access_token,
        refresh_token,
        float(ttl_seconds),
    )
    return session_id, Session(user_id=user_id, csrf_token=csrf_token, id_token=id_token)


async def get_session(db: Db, session_id: str) -> Session | None:
    row = await db.fetchrow(
        """SELECT user_id, csrf_token, id_token FROM sessions
           WHERE id_hash = $1 AND expires_at > now()""",
        hash_secret(session_id),
    )
    if row is None:
        return None
    return Session(
        user_id=str(row["user_id"]), csrf_token=row["csrf_token"], id_token=row["id_token"]
    )


async def delete_session(db: Db, session_id: str) -> None:
    await db.execute("DELETE FROM sessions WHERE id_hash = $1", hash_secret(session_id))


async def delete_expired(db: Db) -> None:
    await db.execute("DELETE FROM sessions WHERE expires_at <= now()")
    await db.execute(
        "DELETE FROM login_requests WHERE created_at < now() - make_interval(secs => $1)",
        float(LOGIN_REQUEST_TTL_SECONDS),
    )


async def save_login_request(db: Db, request: LoginRequest) -> None:
    await db.execute(
        """INSERT INTO login_requests (state, nonce, code_verifier, return_to)
           VALUES ($1, $2, $3, $4)""",
        request.state,
        request.nonce,
        request.code_verifier,
        request.return_to,
    )


async def pop_login_request(db: Db, state: str) -> LoginRequest | None:
    """The pending login with this state, consumed so a callback cannot be replayed."""
    row = await db.fetchrow(
        """DELETE FROM login_requests
           WHERE state = $1 AND created_at > now() - make_interval(secs => $2)
           RETURNING state, nonce, code_verifier, return_to""",
        state,
        float(LOGIN_REQUEST_TTL_SECONDS),
    )
    if row is None:
        return None
    return LoginRequest(
        state=row["state"],
        nonce=row["nonce"],
        code_verifier=row["code_verifier"],
        return_to=row["return_to"],
    )
