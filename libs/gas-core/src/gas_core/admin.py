"""``gas-admin``: operator commands. ``infra``, ``status`` and ``dlq`` live here (they need
only AWS and the stack's names); services add their own groups through the
``gas_admin.commands`` entry-point group (e.g. the gateway adds ``users`` and ``tokens``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from typing import TypeVar

import click
from botocore.exceptions import BotoCoreError, ClientError

from gas_core import operations
from gas_core.aws import AwsClients, aws_clients
from gas_core.infra import infra_up
from gas_core.operations import DeadLetter, UnknownQueue
from gas_core.settings import AwsSettings, StackSettings

T = TypeVar("T")


@click.group()
def main() -> None:
    """Operate a GAS deployment (settings come from GAS_* environment variables)."""


@main.group()
def infra() -> None:
    """Buckets, topics, queues, the jobs table and the mail identity."""


@infra.command("up")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="Origin allowed to upload from a browser (repeatable).",
)
def infra_up_command(as_json: bool, cors_origins: tuple[str, ...]) -> None:
    """Create or correct everything; running it twice changes nothing."""
    stack = StackSettings()

    async def run() -> dict[str, list[str]]:
        async with aws_clients(AwsSettings()) as clients:
            kwargs = {"cors_origins": cors_origins} if cors_origins else {}
            return (await infra_up(clients, stack, **kwargs)).as_dict()

    report = asyncio.run(run())
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for line in report["created"]:
        click.echo(f"created   {line}")
    for line in report["updated"]:
        click.echo(f"updated   {line}")
    click.echo(
        f"infra up ({stack.prefix}): {len(report['created'])} created, "
        f"{len(report['updated'])} updated, {len(report['unchanged'])} unchanged"
    )


def _with_aws(action: Callable[[AwsClients, StackSettings], Awaitable[T]]) -> T:
    """Run ``action`` against the configured AWS, turning what goes wrong into a one-line
    error and exit status 1."""
    aws, stack = AwsSettings(), StackSettings()
    where = aws.endpoint_url or f"AWS in {aws.region}"

    async def run() -> T:
        async with aws_clients(aws, max_attempts=2) as clients:
            return await action(clients, stack)

    try:
        return asyncio.run(run())
    except BotoCoreError as error:
        raise click.ClickException(
            f"cannot reach {where}: {error}. Check GAS_AWS_ENDPOINT_URL, GAS_AWS_REGION and "
            "the AWS credentials."
        ) from error
    except ClientError as error:
        details = error.response.get("Error", {})
        code, message = details.get("Code", "error"), details.get("Message", str(error))
        hint = (
            f" (is GAS_PREFIX={stack.prefix} right? `gas-admin infra up` creates the resources)"
            if "NonExistent" in code or "NotFound" in code
            else ""
        )
        raise click.ClickException(f"{where} refused: {code}: {message}{hint}") from error


def _when(timestamp: str) -> str:
    """``2026-01-02T03:04:05.678901Z`` as ``2026-01-02 03:04:05Z``."""
    return timestamp[:19].replace("T", " ") + "Z" if timestamp else "-"


@main.command("status")
@click.option(
    "--hours",
    default=24,
    show_default=True,
    type=click.IntRange(min=1),
    help="Failed jobs of the last HOURS hours.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def status_command(hours: int, as_json: bool) -> None:
    """Queues (waiting, in flight, delayed, dead letters), jobs by state and the jobs that
    failed lately, across all users."""
    since = datetime.now(UTC) - timedelta(hours=hours)

    async def collect(
        clients: AwsClients, stack: StackSettings
    ) -> tuple[list[operations.QueueDepth], operations.JobsOverview]:
        depths = await operations.queue_depths(await clients.client("sqs"), stack)
        jobs = await operations.jobs_overview(
            await clients.client("dynamodb"), stack.jobs_table, since=since
        )
        return depths, jobs

    depths, jobs = _with_aws(collect)
    if as_json:
        report = {
            "queues": [asdict(depth) for depth in depths],
            "jobs_by_status": jobs.by_status,
            "failed_since": since.isoformat(),
            "failed": [asdict(job) for job in jobs.failed_since],
        }
        click.echo(json.dumps(report, indent=2))
        return
    width = max(len(depth.name) for depth in depths)
    click.echo(f"{'QUEUE':<{width}}  {'WAITING':>7}  {'IN FLIGHT':>9}  {'DELAYED':>7}  DLQ")
    for depth in depths:
        dead = str(depth.dead_letters)
        if depth.dead_letters:
            dead = click.style(f"{dead}  ← gas-admin dlq show {depth.name}", fg="red")
        click.echo(
            f"{depth.name:<{width}}  {depth.visible:>7}  {depth.in_flight:>9}  "
            f"{depth.delayed:>7}  {dead}"
        )
    click.echo("")
    click.echo("JOBS  " + "  ".join(f"{state} {count}" for state, count in jobs.by_status.items()))
    click.echo("")
    failed = jobs.failed_since
    click.echo(f"FAILED IN THE LAST {hours} H: {len(failed) or 'none'}")
    for job in failed:
        click.echo(
            f"{job.job_id}  {job.user_id}  {_when(job.failed_at)}  {job.filename}\n"
            f"    {job.error or '(no message recorded)'}"
        )


@main.group()
def dlq() -> None:
    """Dead-letter queues: look at what failed too often, and send it back.

    QUEUE is a consumed queue, short (`annotator`, `notifier`, `archiver`,
    `archiver-restores`) or full (`<prefix>-annotator`, or its `-dlq`)."""


def _queue(stack: StackSettings, name: str) -> str:
    try:
        return operations.resolve_queue(stack, name)
    except UnknownQueue as error:
        raise click.BadParameter(str(error), param_hint="QUEUE") from error


def _letter_lines(letters: list[DeadLetter]) -> list[str]:
    return [
        f"{letter.message_id}  {letter.receive_count:>8}  {_when(letter.sent_at)}  "
        f"{letter.job_id or '-':<32}  {letter.summary}"
        for letter in letters
    ]


LETTER_HEADER = f"{'MESSAGE ID':<36}  RECEIVED  {'SENT':<20}  {'JOB':<32}  SUMMARY"


@dlq.command("show")
@click.argument("queue")
@click.option(
    "--max",
    "limit",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Show at most this many messages.",
)
def dlq_show(queue: str, limit: int) -> None:
    """List the dead letters of QUEUE and leave them there (each is received and made
    visible again at once; SQS counts that look as a receive)."""
    source = _queue(StackSettings(), queue)

    async def peek(clients: AwsClients, _: StackSettings) -> list[DeadLetter]:
        return await operations.peek_dead_letters(await clients.client("sqs"), source, limit=limit)

    letters = _with_aws(peek)
    dead_letter_queue = StackSettings.dead_letter_queue(source)
    if not letters:
        click.echo(f"{dead_letter_queue} is empty")
        return
    click.echo(LETTER_HEADER)
    for line in _letter_lines(letters):
        click.echo(line)
    click.echo(
        f"{len(letters)} message(s) in {dead_letter_queue}, left in place; "
        f"`gas-admin dlq redrive {queue}` sends them back to {source}"
    )


@dlq.command("redrive")
@click.argument("queue")
@click.option(
    "--max",
    "limit",
    default=None,
    type=click.IntRange(min=1),
    help="Move at most this many messages (default: all).",
)
def dlq_redrive(queue: str, limit: int | None) -> None:
    """Move the dead letters of QUEUE back to QUEUE, printing each one moved. Workers
    handle a message again as if it were new (a job request reruns only while its job is
    still QUEUED)."""
    source = _queue(StackSettings(), queue)

    async def move(clients: AwsClients, _: StackSettings) -> list[DeadLetter]:
        return await operations.redrive(await clients.client("sqs"), source, limit=limit)

    moved = _with_aws(move)
    dead_letter_queue = StackSettings.dead_letter_queue(source)
    if moved:
        click.echo(LETTER_HEADER)
        for line in _letter_lines(moved):
            click.echo(line)
    click.echo(f"moved {len(moved)} message(s) from {dead_letter_queue} to {source}")


for _entry in entry_points(group="gas_admin.commands"):
    main.add_command(_entry.load())


if __name__ == "__main__":
    main()
