"""``gas-admin``: operator commands. Services add their own groups through the
``gas_admin.commands`` entry-point group (e.g. the gateway adds ``users`` and ``tokens``)."""

from __future__ import annotations

import asyncio
import json
from importlib.metadata import entry_points

import click

from gas_core.aws import aws_clients
from gas_core.infra import infra_up
from gas_core.settings import AwsSettings, StackSettings


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


for _entry in entry_points(group="gas_admin.commands"):
    main.add_command(_entry.load())


if __name__ == "__main__":
    main()
