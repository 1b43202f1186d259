"""Entry point: consume job requests and answer health probes."""

from __future__ import annotations

import asyncio
import logging

from gas_annotator.settings import Settings
from gas_core.aws import AwsClients
from gas_core.events import Event, JobRequested
from gas_core.messaging import Delivery, Handler
from gas_core.worker import run_queue_worker

log = logging.getLogger(__name__)


async def make_handler(clients: AwsClients) -> Handler:
    async def handle(event: Event, delivery: Delivery) -> None:
        if not isinstance(event, JobRequested):
            log.warning("ignoring unexpected %s on the job-requests queue", event.type)
            return
        log.info(
            "received job request",
            extra={"input_key": event.payload.input_key, "delivery": delivery.receive_count},
        )

    return handle


def main() -> None:
    settings = Settings()
    asyncio.run(
        run_queue_worker(
            service="annotator",
            settings=settings,
            queue_name=settings.stack.annotator_queue,
            make_handler=make_handler,
        )
    )
