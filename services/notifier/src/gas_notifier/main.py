"""Entry point: consume the notifier queue and answer health probes."""

from __future__ import annotations

import asyncio
import logging

from gas_core.aws import AwsClients
from gas_core.events import Event
from gas_core.messaging import Delivery, Handler
from gas_core.worker import run_queue_worker
from gas_notifier.settings import Settings

log = logging.getLogger(__name__)


async def make_handler(clients: AwsClients) -> Handler:
    async def handle(event: Event, delivery: Delivery) -> None:
        log.info("received %s (not acted on yet)", event.type)

    return handle


def main() -> None:
    settings = Settings()
    asyncio.run(
        run_queue_worker(
            service="notifier",
            settings=settings,
            queue_name=settings.stack.notifier_queue,
            make_handler=make_handler,
        )
    )
