"""Migrations against a real PostgreSQL database."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from gas_gateway.db import migrate, migrations

pytestmark = pytest.mark.integration


async def test_replicas_starting_together_apply_each_migration_once(gateway_database: str) -> None:
    results = await asyncio.gather(*(migrate(gateway_database) for _ in range(3)))
    expected = [f"{m.version:04d}_{m.name}" for m in migrations()]
    assert sorted(results, key=len) == [[], [], expected]

    connection = await asyncpg.connect(gateway_database)
    try:
        versions = await connection.fetch("SELECT version FROM schema_migrations ORDER BY 1")
        assert [row["version"] for row in versions] == [m.version for m in migrations()]
        assert await connection.fetchval("SELECT to_regclass('users') IS NOT NULL")
    finally:
        await connection.close()
    assert await migrate(gateway_database) == []
