"""``gas-admin mail``: read the mails the local stack's SES captured (loaded by gas-core's
``gas-admin`` through the ``gas_admin.commands`` entry point)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from gas_core.settings import AwsSettings
from gas_notifier.captured import read_captured_mails


@click.command("mail")
@click.option("--to", "recipient", help="Only mails to this address.")
@click.option("--last", default=10, show_default=True, help="How many of the newest mails.")
@click.option("--full", is_flag=True, help="Print each mail's plain-text body too.")
@click.option("--json", "as_json", is_flag=True, help="Print the mails as JSON.")
def mail(recipient: str | None, last: int, full: bool, as_json: bool) -> None:
    """Mails sent on the local stack (moto's SES; set GAS_AWS_ENDPOINT_URL)."""
    endpoint = AwsSettings().endpoint_url
    if not endpoint:
        raise click.ClickException(
            "GAS_AWS_ENDPOINT_URL is not set: captured mails exist only on the local stack "
            "(moto); on AWS, mails go to real inboxes"
        )
    mails = read_captured_mails(endpoint)
    if recipient:
        mails = [m for m in mails if recipient.lower() in (to.lower() for to in m.to)]
    mails = mails[-last:] if last > 0 else mails
    if as_json:
        click.echo(json.dumps([asdict(m) for m in mails], indent=2))
        return
    if not mails:
        click.echo("no mails captured" + (f" for {recipient}" if recipient else ""))
        return
    for captured in mails:
        click.echo(f"{', '.join(captured.to)}  {captured.subject}")
        if full:
            click.echo("")
            click.echo(captured.text.rstrip())
            click.echo("-" * 72)
