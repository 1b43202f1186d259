"""The common shape of a queue worker process: consume one queue, answer health probes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI

from gas_core.aws import AwsClients, aws_clients
from gas_core.health import ReadinessCheck, health_router, queue_check
from gas_core.logging import configure_logging
from gas_core.messaging import ConsumerOptions, Handler, SqsConsumer, queue_url
from gas_core.runtime import Worker, serve
from gas_core.settings import ServiceSettings

HandlerFactory = Callable[[AwsClients], Awaitable[Handler]]
ChecksFactory = Callable[[AwsClients], Awaitable[Mapping[str, ReadinessCheck]]]


async def run_queue_worker(
    *,
    service: str,
    settings: ServiceSettings,
    queue_name: str,
    make_handler: HandlerFactory,
    options: ConsumerOptions | None = None,
    extra_checks: ChecksFactory | None = None,
    extra_workers: tuple[Callable[[AwsClients], Worker], ...] = (),
) -> None:
    configure_logging(service, settings.log_level)
    async with aws_clients(settings.aws) as clients:
        sqs = await clients.client("sqs")
        app = FastAPI(title=f"gas-{service}", docs_url=None, redoc_url=None)
        checks = {"queue": queue_check(sqs, queue_name)}
        if extra_checks:
            checks.update(await extra_checks(clients))
        app.include_router(health_router(checks))

        async def consume(stop: asyncio.Event) -> None:
            consumer = SqsConsumer(
                sqs, await queue_url(sqs, queue_name), await make_handler(clients), options
            )
            await consumer.run_until(stop)

        workers = (consume, *(factory(clients) for factory in extra_workers))
        await serve(app, host=settings.host, port=settings.port, workers=workers)
