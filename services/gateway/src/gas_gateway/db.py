"""PostgreSQL: the connection pool and versioned migrations.

Migrations are the numbered ``migrations/NNNN_*.sql`` files, applied in order, each in its own
transaction, and recorded in ``schema_migrations``. Every gateway replica runs them at startup
(and ``gas-admin db migrate`` runs them on demand) under one advisory lock, so replicas that
start together apply each migration exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.resources import files
from typing import TypeAlias

import asyncpg

log = logging.getLogger(__name__)

MIGRATIONS_LOCK_ID = 0x6761735F6D6967  # "gas_mig": any constant unique to this database
Pool: TypeAlias = asyncpg.Pool


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    found = []
    for entry in files("gas_gateway.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(int(version), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda migration: migration.version)


async def migrate(database_url: str) -> list[str]:
    """Apply the migrations this database lacks; returns the names of those applied."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATIONS_LOCK_ID)
        try:
            return await _apply_missing(connection)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATIONS_LOCK_ID)
    finally:
        await connection.close()


async def _apply_missing(connection: asyncpg.Connection) -> list[str]:
    await connection.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version integer PRIMARY KEY,
               name text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    applied = {
        row["version"] for row in await connection.fetch("SELECT version FROM schema_migrations")
    }
    done = []
    for migration in migrations():
        if migration.version in applied:
            continue
        async with connection.transaction():
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
        log.info("applied migration %04d %s", migration.version, migration.name)
        done.append(f"{migration.version:04d}_{migration.name}")
    return done


async def create_pool(database_url: str) -> Pool:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=10, command_timeout=10)
    assert pool is not None
    return pool
