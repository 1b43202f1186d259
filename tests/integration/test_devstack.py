"""`make dev` as a newcomer meets it: everything comes up, a job request reaches the
annotator, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gas_core.aws import aws_clients
from gas_core.events import JobRequested
from gas_core.messaging import SnsPublisher, topic_arn
from gas_core.settings import AwsSettings, StackSettings
from gas_testing.localstack import PrivatePostgres, free_port, http_ok, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(status.parent.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Output:
    """Collects the stack's output in the background so its pipe never fills."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: self.lines.extend(stream), daemon=True).start()

    def wait_for(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            time.sleep(0.2)
        raise AssertionError(
            f"no line matching {pattern!r}; output:\n{''.join(self.lines)[-6000:]}"
        )


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    # Inside a folder only we can enter, as in a checkout under root's home: the private
    # PostgreSQL, run as the postgres user when we are root, must still find a home.
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    path = private / "state"
    yield path
    PrivatePostgres(path / "postgres").discard()


def test_make_dev_starts_everything_routes_a_job_request_and_stops_cleanly(
    state_dir: Path,
) -> None:
    base = free_port_block(10)
    moto_port = free_port()
    prefix = f"dev{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "GAS_PREFIX": prefix,
        "GAS_DEV_PORT_BASE": str(base),
        "GAS_DEV_MOTO_PORT": str(moto_port),
        "GAS_DEV_POSTGRES_PORT": str(free_port()),
        "GAS_DEV_STATE_DIR": str(state_dir),
        "GAS_AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "NO_COLOR": "1",
    }
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "devstack.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(process)
    started: set[int] = set()
    try:
        ready_line = output.wait_for(r"all services ready in", timeout=90)
        assert float(re.search(r"ready in ([\d.]+)s", ready_line)[1]) < 90  # type: ignore[index]
        output.wait_for(rf"http://127\.0\.0\.1:{base}\b", timeout=5)
        # The services' user lookups are on the gateway's internal port, not the public one.
        output.wait_for(rf"gateway internal http://127\.0\.0\.1:{base + 5}\b", timeout=5)
        assert http_ok(f"http://127.0.0.1:{base + 5}/readyz")
        public = httpx.get(f"http://127.0.0.1:{base}/internal/users/{uuid.uuid4()}")
        assert public.status_code == 404
        started = descendants(process.pid)
        assert len(started) >= 6, "moto and five services should be running"

        job_id = f"job-{uuid.uuid4().hex[:8]}"
        asyncio.run(publish_job_request(moto_port, prefix, job_id))
        output.wait_for(rf"annotator \|.*{job_id}", timeout=30)

        # A crashed service is announced and started again, without a restart of the stack.
        notifier = next(pid for pid in started if "gas_notifier" in command_line(pid))
        os.kill(notifier, signal.SIGKILL)
        output.wait_for(r"SERVICE NOTIFIER EXITED with code -9 .* starting it again", timeout=15)
        output.wait_for(r"restarting notifier", timeout=15)
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{base + 3}/readyz"),
            timeout=60,
            what="the restarted notifier to be ready",
        )
        started |= descendants(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=90)
    leftovers = [pid for pid in started if alive(pid)]
    assert not leftovers, f"processes left running after Ctrl-C: {leftovers}"
    postmaster = PrivatePostgres(state_dir / "postgres").data_dir / "postmaster.pid"
    assert not postmaster.exists(), "the private PostgreSQL is still running"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def free_port_block(size: int) -> int:
    """The first of ``size`` consecutive free ports, below the kernel's ephemeral range
    (32768 up on Linux): ports there are also handed out as the source ports of outgoing
    connections, and one did take a port of the block between this check and the dev stack
    binding it (the notifier then failed to start five times)."""
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(20_000, 32_768 - size)
        if all(_bindable(base + offset) for offset in range(size)):
            return base
    raise RuntimeError(f"no {size} consecutive free ports between 20000 and 32767")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def publish_job_request(moto_port: int, prefix: str, job_id: str) -> None:
    aws = AwsSettings(
        endpoint_url=f"http://127.0.0.1:{moto_port}",
        access_key_id="dev",
        secret_access_key="dev",  # type: ignore[arg-type]
    )
    stack = StackSettings(prefix=prefix)
    async with aws_clients(aws) as clients:
        sns = await clients.client("sns")
        arn = await topic_arn(sns, stack.job_requests_topic)
        event = JobRequested.model_validate(
            {
                "job_id": job_id,
                "user_id": "dev-user",
                "payload": {
                    "tier": "free",
                    "input_bucket": stack.inputs_bucket,
                    "input_key": f"dev-user/{job_id}/x.vcf",
                    "filename": "x.vcf",
                    "size_bytes": 1,
                },
            }
        )
        await SnsPublisher(sns, arn).publish(event)
