"""Every way asyncpg reports a database outage is answered as the 503 with its message, never
a bare 500 (the soak suite's PostgreSQL restart met one such case that the list had missed)."""

from __future__ import annotations

import asyncpg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gas_gateway import edge

OUTAGES = [
    ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
    OSError("Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 5432)"),
    TimeoutError(),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.CrashShutdownError("terminating connection because of crash of another process"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.ConnectionFailureError("server closed the connection unexpectedly"),
    asyncpg.InterfaceError("cannot call Connection.fetch(): connection has been released"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    # Met in a soak run: a connection broken by the shutdown mid-query, used again.
    asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
]


@pytest.mark.parametrize("error", OUTAGES, ids=lambda e: type(e).__name__)
def test_a_database_outage_is_a_503_with_a_message(error: Exception) -> None:
    app = FastAPI()
    for outage in edge.DATABASE_OUTAGES:
        app.add_exception_handler(outage, edge.database_down)

    @app.get("/api/me")
    async def me() -> None:
        raise error

    answer = TestClient(app, raise_server_exceptions=False).get("/api/me")
    assert answer.status_code == 503
    assert answer.json() == {"detail": edge.DATABASE_DOWN}
    assert answer.headers["Retry-After"] == "30"


def test_a_mistake_in_a_query_is_not_called_an_outage() -> None:
    assert not isinstance(asyncpg.UndefinedColumnError("no such column"), edge.DATABASE_OUTAGES)
