"""Entry point: consume job events, mail the users, answer health probes."""

from __future__ import annotations

import asyncio

import httpx

from gas_core.accounts import GatewayAccounts
from gas_core.aws import AwsClients
from gas_core.events import Event
from gas_core.messaging import ConsumerOptions, Delivery, Handler
from gas_core.worker import run_queue_worker
from gas_notifier.ledger import SentMailLedger
from gas_notifier.service import notify
from gas_notifier.ses import SesMailer
from gas_notifier.settings import Settings


def main() -> None:
    settings = Settings()
    asyncio.run(run(settings))


async def run(settings: Settings) -> None:
    async with httpx.AsyncClient(timeout=10.0) as http:
        accounts = GatewayAccounts(
            http,
            gateway_url=settings.gateway_url,
            service="notifier",
            secret=settings.stack.internal_jwt_secret,
        )

        async def make_handler(clients: AwsClients) -> Handler:
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
                    lease_seconds=settings.send_lease_seconds,
                    attempt=delivery.receive_count,
                )

            return handle

        await run_queue_worker(
            service="notifier",
            settings=settings,
            queue_name=settings.stack.notifier_queue,
            make_handler=make_handler,
            options=ConsumerOptions(wait_seconds=settings.receive_wait_seconds),
        )
