"""``gas-admin users|tokens|db``: operator commands for accounts (loaded by gas-core's
``gas-admin`` through the ``gas_admin.commands`` entry points). They read ``DATABASE_URL``
and the ``GAS_*`` settings like the gateway does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import click

from gas_core.aws import aws_clients
from gas_core.tiers import Tier
from gas_gateway import accounts, service
from gas_gateway.accounts import User
from gas_gateway.db import create_pool, migrate
from gas_gateway.outbox import OutboxRelay
from gas_gateway.settings import Settings

T = TypeVar("T")
TIERS = click.Choice([tier.value for tier in Tier])


def _with_pool(action: Callable[[asyncpg.Pool, Settings], Awaitable[T]]) -> T:
    settings = Settings()

    async def run() -> T:
        await migrate(settings.database_url)
        pool = await create_pool(settings.database_url)
        try:
            return await action(pool, settings)
        finally:
            await pool.close()

    return asyncio.run(run())


async def _user_by_email(pool: asyncpg.Pool, email: str) -> User:
    user = await accounts.get_user_by_email(pool, email)
    if user is None:
        raise click.ClickException(f"no user with email {email}; see `gas-admin users list`")
    return user


def _describe(user: User) -> str:
    identity = f"{user.issuer} {user.subject}" if user.issuer else "(not signed in yet)"
    return f"{user.id}  {user.email:<32} {user.tier.value:<8} {user.name or '-'}  {identity}"


@click.group()
def db() -> None:
    """The gateway's PostgreSQL schema."""


@db.command("migrate")
def db_migrate() -> None:
    """Apply the migrations the database lacks (the gateway also does this at startup)."""
    applied = asyncio.run(migrate(Settings().database_url))
    click.echo("\n".join(f"applied {name}" for name in applied) or "database is up to date")


@click.group()
def users() -> None:
    """Accounts and their tiers."""


@users.command("list")
def users_list() -> None:
    """Every account: id, email, tier, name, identity."""

    async def action(pool: asyncpg.Pool, _: Settings) -> list[User]:
        return await accounts.list_users(pool)

    for user in _with_pool(action):
        click.echo(_describe(user))


@users.command("create")
@click.option("--email", required=True, help="The user's email; their first login binds to it.")
@click.option("--tier", type=TIERS, default=Tier.FREE.value, show_default=True)
@click.option("--name", default="", help="Display name.")
def users_create(email: str, tier: str, name: str) -> None:
    """Create an account ahead of its first login (its verified email binds it)."""

    async def action(pool: asyncpg.Pool, _: Settings) -> User:
        try:
            return await accounts.insert_user(pool, email=email, name=name, tier=Tier(tier))
        except asyncpg.UniqueViolationError as error:
            raise click.ClickException(f"a user with email {email} already exists") from error

    click.echo(_describe(_with_pool(action)))


@users.command("set-tier")
@click.option("--email", required=True)
@click.option("--tier", type=TIERS, required=True)
def users_set_tier(email: str, tier: str) -> None:
    """Change a user's tier (publishes AccountTierChanged, like an upgrade)."""

    async def action(pool: asyncpg.Pool, settings: Settings) -> User:
        user = await _user_by_email(pool, email)
        changed = await service.change_tier(
            pool, user=user, tier=Tier(tier), topic=settings.stack.account_events_topic
        )
        async with aws_clients(settings.aws) as clients:
            await OutboxRelay(pool, await clients.client("sns")).publish_pending()
        return changed

    click.echo(_describe(_with_pool(action)))


@click.group()
def tokens() -> None:
    """Personal API tokens."""


@tokens.command("create")
@click.option("--email", required=True, help="Whose token.")
@click.option(
    "--name", default="gas-admin", show_default=True, help="Label shown in the token list."
)
def tokens_create(email: str, name: str) -> None:
    """Create an API token; the token itself is the last line printed."""

    async def action(pool: asyncpg.Pool, _: Settings) -> str:
        user = await _user_by_email(pool, email)
        token, secret = await service.create_token(pool, user=user, name=name)
        click.echo(f"created token {token.prefix} ({token.name}) for {user.email}", err=True)
        return secret

    click.echo(_with_pool(action))
