"""pytest plugin with the fixtures every integration test shares (loaded by the root conftest).

* ``moto`` — one real moto server process per test session, on a free port;
* ``stack`` — a fresh, fully bootstrapped set of AWS resources under a unique prefix for one
  test, so tests never see each other's buckets, queues or jobs;
* ``database_url`` — PostgreSQL: ``DATABASE_URL`` when set, else the machine's server on
  127.0.0.1:5432 when it answers, else a private cluster started for the session;
* ``start_service`` — runs a GAS service as a real process against a ``stack`` and waits
  until its ``/readyz`` is green;
* ``queue_drained`` — whether a stack's queue has nothing left waiting, in flight or delayed;
* ``received_events`` — the events waiting on a stack's queue;
* ``publish`` — events sent to a stack's topic, as the services would;
* ``repository_on`` / ``with_jobs`` / ``get_job`` — the stack's jobs table, read or changed
  through a service's repository (``with_jobs`` from a synchronous test);
* ``job_record`` / ``put_jobs`` — a job record in any state, written as its owners left it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest

from gas_core.aws import aws_clients
from gas_core.events import Envelope, Event, parse_event
from gas_core.infra import infra_up
from gas_core.jobs import (
    JobRecord,
    JobStatus,
    JobTable,
    job_file_key,
    record_to_item,
    utc_timestamp,
)
from gas_core.messaging import SnsPublisher, queue_url, topic_arn
from gas_core.settings import AwsSettings, Environment, StackSettings
from gas_core.tiers import Tier
from gas_testing.localstack import MotoServer, PrivatePostgres, free_port, spawn, stop_process

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

T = TypeVar("T")
R = TypeVar("R", bound=JobTable)


@dataclass
class Stack:
    """One test's isolated slice of the local AWS: settings plus the env for subprocesses."""

    aws: AwsSettings
    settings: StackSettings
    env: dict[str, str] = field(default_factory=dict)

    def process_env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, **self.env, **extra}


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def stack(moto: MotoServer) -> Stack:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = {
        "GAS_ENVIRONMENT": Environment.TEST.value,
        "GAS_PREFIX": prefix,
        "GAS_INTERNAL_JWT_SECRET": uuid.uuid4().hex,
        "GAS_AWS_ENDPOINT_URL": moto.url,
        "GAS_AWS_REGION": "us-east-1",
        "GAS_AWS_ACCESS_KEY_ID": "testing",
        "GAS_AWS_SECRET_ACCESS_KEY": "testing",
    }
    aws = AwsSettings(
        endpoint_url=moto.url,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",  # type: ignore[arg-type]
    )
    settings = StackSettings(
        environment=Environment.TEST,
        prefix=prefix,
        internal_jwt_secret=env["GAS_INTERNAL_JWT_SECRET"],  # type: ignore[arg-type]
    )

    async def bootstrap() -> None:
        async with aws_clients(aws) as clients:
            await infra_up(clients, settings)

    asyncio.run(bootstrap())
    return Stack(aws=aws, settings=settings, env=env)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    machine_url = "postgresql://postgres@127.0.0.1:5432/postgres"
    probe = subprocess.run(
        ["psql", machine_url, "-Atc", "select 1"], capture_output=True, check=False
    )
    if probe.returncode == 0:
        yield machine_url
        return
    cluster = PrivatePostgres(tmp_path_factory.mktemp("pg") / "data").start()
    yield cluster.url
    cluster.discard()


@dataclass
class ServiceProcess:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing gets to clean up."""
        self.process.kill()
        self.process.wait(timeout=10)


StartService = Callable[..., ServiceProcess]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    started: list[ServiceProcess] = []

    def start(name: str, stack: Stack, *, timeout: float = 60.0, **env: str) -> ServiceProcess:
        port = free_port()
        prefix = f"GAS_{name.upper()}_"
        log_path = tmp_path / f"{name}-{len(started)}.log"
        with log_path.open("wb") as log_file:
            process = spawn(
                [sys.executable, "-m", f"gas_{name}"],
                env=stack.process_env(**{f"{prefix}PORT": str(port)}, **env),
                stdout=log_file.fileno(),
            )
        service = ServiceProcess(name, f"http://127.0.0.1:{port}", process, log_path)
        started.append(service)
        _wait_ready(service, timeout)
        return service

    yield start
    for service in reversed(started):
        service.stop()


def _wait_ready(service: ServiceProcess, timeout: float) -> None:
    end = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < end:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited with {service.process.returncode}:\n{service.log()[-4000:]}"
            )
        try:
            response = httpx.get(f"{service.url}/readyz", timeout=2.0)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as error:
            last = str(error)
        time.sleep(0.2)
    raise TimeoutError(f"{service.name} not ready in {timeout}s: {last}\n{service.log()[-4000:]}")


def queue_drained(stack: Stack, queue: str) -> bool:
    """No message waiting, in flight or delayed on the stack's ``queue``."""

    async def count() -> int:
        async with aws_clients(stack.aws) as clients:
            sqs = await clients.client("sqs")
            url = await queue_url(sqs, queue)
            attributes = (
                await sqs.get_queue_attributes(
                    QueueUrl=url,
                    AttributeNames=[
                        "ApproximateNumberOfMessages",
                        "ApproximateNumberOfMessagesNotVisible",
                        "ApproximateNumberOfMessagesDelayed",
                    ],
                )
            )["Attributes"]
            return sum(int(value) for value in attributes.values())

    return asyncio.run(count()) == 0


def received_events(stack: Stack, queue: str, *, wait_seconds: int) -> list[Event]:
    """The events waiting on the stack's ``queue`` (up to ten), waiting up to ``wait_seconds``
    for the first."""

    async def receive() -> list[Event]:
        async with aws_clients(stack.aws) as clients:
            sqs = await clients.client("sqs")
            received = await sqs.receive_message(
                QueueUrl=await queue_url(sqs, queue),
                WaitTimeSeconds=wait_seconds,
                MaxNumberOfMessages=10,
            )
            return [parse_event(message["Body"]) for message in received.get("Messages", [])]

    return asyncio.run(receive())


@asynccontextmanager
async def repository_on(
    stack: Stack, repository: Callable[[DynamoDBClient, str], R]
) -> AsyncIterator[R]:
    """``repository`` (a service's, e.g. ``StorageRepository``) on the stack's jobs table."""
    async with aws_clients(stack.aws) as clients:
        yield repository(await clients.client("dynamodb"), stack.settings.jobs_table)


def with_jobs(
    stack: Stack,
    repository: Callable[[DynamoDBClient, str], R],
    action: Callable[[R], Awaitable[T]],
) -> T:
    """Run ``action`` with ``repository`` on the stack's jobs table."""

    async def run() -> T:
        async with repository_on(stack, repository) as repo:
            return await action(repo)

    return asyncio.run(run())


def get_job(stack: Stack, job_id: str) -> JobRecord:
    job = with_jobs(stack, JobTable, lambda table: table.get(job_id))
    assert job is not None, f"job {job_id} vanished"
    return job


def job_record(
    *,
    user_id: str = "alice",
    status: JobStatus = JobStatus.CREATED,
    submitted_at: datetime | None = None,
    filename: str = "sample.vcf",
    **fields: Any,
) -> JobRecord:
    """A new job's record as the jobs service creates it (free tier, 1234 bytes, GRCh37),
    in ``status`` and with ``fields`` set on top."""
    job_id = uuid.uuid4().hex
    moment = utc_timestamp(submitted_at)
    defaults: dict[str, Any] = {
        "job_id": job_id,
        "user_id": user_id,
        "tier": Tier.FREE,
        "status": status,
        "submitted_at": moment,
        "created_at": moment,
        "input_filename": filename,
        "input_size_bytes": 1234,
        "input_bucket": "inputs",
        "input_key": job_file_key(user_id=user_id, job_id=job_id, filename=filename),
        "build": "GRCh37",
    }
    return JobRecord.model_validate({**defaults, **fields})


async def put_jobs(stack: Stack, *jobs: JobRecord) -> None:
    """Write ``jobs`` to the stack's table exactly as they are: the state the services that
    own those transitions would have left them in."""
    async with aws_clients(stack.aws) as clients:
        dynamodb = await clients.client("dynamodb")
        for job in jobs:
            await dynamodb.put_item(TableName=stack.settings.jobs_table, Item=record_to_item(job))


def publish(stack: Stack, topic: str, *events: Envelope) -> None:
    """Publish ``events`` to the stack's ``topic``, as the services would."""

    async def send() -> None:
        async with aws_clients(stack.aws) as clients:
            sns = await clients.client("sns")
            publisher = SnsPublisher(sns, await topic_arn(sns, topic))
            for event in events:
                await publisher.publish(event)

    asyncio.run(send())
