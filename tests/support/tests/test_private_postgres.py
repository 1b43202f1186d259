"""The private PostgreSQL cluster behind `make dev` and the tests, started for a folder only we
can enter — a checkout under root's home or in a `mktemp -d` folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from gas_testing.localstack import PrivatePostgres

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def run_sql(url: str, sql: str) -> object:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


def test_a_cluster_for_a_root_only_folder_starts_and_keeps_its_data_across_restarts(
    tmp_path: Path,
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    home = private / "checkout" / ".local" / "postgres"
    cluster = PrivatePostgres(home)
    try:
        cluster.start()
        asyncio.run(run_sql(cluster.url, "CREATE TABLE accounts (email text)"))
        asyncio.run(run_sql(cluster.url, "INSERT INTO accounts VALUES ('free@example.org')"))
        cluster.stop()

        again = PrivatePostgres(home).start()
        assert again.data_dir == cluster.data_dir
        assert asyncio.run(run_sql(again.url, "SELECT email FROM accounts")) == "free@example.org"
    finally:
        cluster.discard()
    assert not cluster.data_dir.exists(), "discard leaves the cluster's data behind"
