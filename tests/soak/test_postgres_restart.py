"""The account database restarts under traffic: API-token requests through the gateway during
the outage get a 503 with a message (never a bare 500), and traffic recovers without the
gateway being restarted."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import pytest

from gas_core.tiers import Tier
from gas_testing.localstack import PrivatePostgres
from tests.soak.report import record
from tests.soak.stack import StartSoak, User

pytestmark = [pytest.mark.soak, pytest.mark.integration, pytest.mark.slow]

CLIENTS = 4
BEFORE_SECONDS = 3
DOWN_SECONDS = 4
AFTER_SECONDS = 8


@dataclass(frozen=True)
class Answer:
    at: float
    what: str  # the status code, or the transport error's name
    detail: str


def keep_asking(user: User, answers: list[Answer], stopping: threading.Event) -> None:
    """What a script does: look at its account, list its jobs, create a job — again and again."""
    calls = [
        lambda: user.http.get("/api/me"),
        lambda: user.http.get("/api/jobs"),
        lambda: user.http.post("/api/jobs", json={"filename": "a.vcf", "size_bytes": 100}),
    ]
    n = 0
    while not stopping.is_set():
        try:
            answer = calls[n % len(calls)]()
            detail = "" if answer.status_code < 300 else _detail(answer)
            answers.append(Answer(time.monotonic(), str(answer.status_code), detail))
        except httpx.TransportError as error:
            answers.append(Answer(time.monotonic(), type(error).__name__, str(error)))
        n += 1


def _detail(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("detail", ""))
    except ValueError:
        return f"(not JSON) {answer.text[:80]!r}"


def test_a_postgres_restart_under_traffic_is_503_with_a_message_and_heals(
    start_soak: StartSoak, soak_postgres: PrivatePostgres
) -> None:
    soak = start_soak(names=("jobs", "gateway"))
    gateway = soak.gateway.process
    assert gateway is not None
    users = [soak.user(f"steady{n}", Tier.FREE) for n in range(2)]
    answers: list[Answer] = []
    stopping = threading.Event()
    clients = [
        threading.Thread(target=keep_asking, args=(users[n % 2], answers, stopping), daemon=True)
        for n in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    time.sleep(BEFORE_SECONDS)
    stopped_at = time.monotonic()
    soak_postgres.stop()
    down_at = time.monotonic()
    time.sleep(DOWN_SECONDS)
    starting_at = time.monotonic()
    soak_postgres.start()
    up_at = time.monotonic()
    time.sleep(AFTER_SECONDS)
    stopping.set()
    for client in clients:
        client.join(timeout=30)

    def phase(answer: Answer) -> str:
        if answer.at < stopped_at:
            return "before"
        return "during" if answer.at < up_at else "after"

    by_phase: dict[str, Counter[str]] = {}
    for answer in answers:
        by_phase.setdefault(phase(answer), Counter())[answer.what] += 1
    ok = [a for a in answers if a.what in ("200", "201")]
    failed = [a for a in answers if a.what not in ("200", "201")]
    first_ok_after = min((a.at for a in ok if a.at >= up_at), default=None)
    first_failure = min((a.at for a in failed), default=None)
    last_failure = max((a.at for a in failed), default=None)
    details = Counter(a.detail for a in failed)
    record(
        "postgres-restart",
        f"PostgreSQL stopped for {DOWN_SECONDS} s under {CLIENTS} API-token clients "
        f"(GET /api/me, GET /api/jobs, POST /api/jobs)",
        {
            "requests": len(answers),
            **{f"answers {name}": dict(counts) for name, counts in by_phase.items()},
            "stop took s": down_at - stopped_at,
            "start took s": up_at - starting_at,
            "clients saw failures for s": (
                last_failure - first_failure if first_failure and last_failure else 0.0
            ),
            "first success after the start s": (
                first_ok_after - up_at if first_ok_after else "never"
            ),
            "last failure after the start s": (
                last_failure - up_at if last_failure and last_failure > up_at else "none after"
            ),
            "messages": dict(details.most_common(3)),
            "gateway restarted": gateway.poll() is not None or soak.gateway.starts > 1,
        },
    )

    seen = {a.what for a in answers}
    assert "500" not in seen, "a bare 500 during the outage"
    assert seen <= {"200", "201", "503"}, Counter(a.what for a in answers)
    assert by_phase["during"]["503"], "the outage was never seen: the test proves nothing"
    assert all("database is not answering" in a.detail for a in failed), details
    assert first_ok_after is not None, "traffic never recovered"
    assert all(a.what in ("200", "201") for a in answers if a.at > up_at + AFTER_SECONDS / 2)
    assert gateway.poll() is None, "the gateway process died"
