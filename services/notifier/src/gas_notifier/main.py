"""Entry point: consume job events, mail the users, answer health probes."""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx

from gas_core.accounts import GatewayAccounts
from gas_core.aws import AwsClients
from gas_core.events import Event
from gas_core.messaging import ConsumerOptions, Delivery
from gas_core.service import Consume, Parts, run_service
from gas_notifier.ledger import SentMailLedger
from gas_notifier.service import notify
from gas_notifier.ses import SesMailer
from gas_notifier.settings import Settings


def main() -> None:
    run_service("notifier", Settings(), build)


async def build(settings: Settings, clients: AwsClients, resources: AsyncExitStack) -> Parts:
    http = await resources.enter_async_context(httpx.AsyncClient(timeout=10.0))
    accounts = GatewayAccounts(
        http,
        gateway_url=settings.gateway_url,
        service="notifier",
        secret=settings.stack.internal_jwt_secret,
    )
    mailer = SesMailer(await clients.client("ses"), sender=settings.stack.ses_sender)
    ledger = SentMailLedger(
        await clients.client("dynamodb"),
        settings.stack.sent_mail_table,
        lease_seconds=settings.send_lease_seconds,
    )

    async def handle(event: Event, delivery: Delivery) -> None:
        await notify(
            event,
            accounts=accounts,
            mailer=mailer,
            ledger=ledger,
            public_url=settings.public_url,
            free_window_seconds=settings.stack.free_window_seconds,
            lease_seconds=settings.send_lease_seconds,
            attempt=delivery.receive_count,
        )

    options = ConsumerOptions(wait_seconds=settings.receive_wait_seconds)
    return Parts(consume=[Consume(settings.stack.notifier_queue, handle, options)])
