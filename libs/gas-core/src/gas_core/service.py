"""One shape for every GAS process: settings → clients → parts → serve.

A service's ``main.py`` reads its settings once and hands a ``build`` function to
:func:`run_service`. ``build`` gets the settings, the process's AWS clients and an exit stack
for anything else it opens (a database pool, an HTTP client, child processes), and returns
the :class:`Parts` the process runs: an HTTP app (an API service) or none (a worker, which
still answers ``/healthz`` and ``/readyz``), the queues it consumes, background loops and
readiness checks, and any further apps on ports of their own (the gateway's internal API).
:func:`run_service` adds the health endpoints and metrics to every app — with a readiness
check for every queue consumed — and serves until SIGTERM, stopping consumers and loops
before HTTP, then closes what the exit stack holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI

from gas_core.aws import AwsClients, aws_clients
from gas_core.health import ReadinessCheck, health_router, queue_check
from gas_core.logging import configure_logging
from gas_core.messaging import ConsumerOptions, SqsConsumer, queue_url
from gas_core.metrics import HttpMetrics, metrics_router, watch_queue_depths
from gas_core.routing import install_allow
from gas_core.runtime import Listener, Worker, serve
from gas_core.settings import ServiceSettings, StackSettings
from gas_core.tracing import HttpTracing, configure_tracing

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class Consume:
    """A queue this process consumes: every message goes to ``handler``. Messages are GAS
    event envelopes unless ``parse`` reads another format (S3's notifications)."""

    queue: str
    handler: Callable[[Any, Any], Awaitable[None]]
    options: ConsumerOptions = field(default_factory=ConsumerOptions)
    parse: Callable[[str], Any] | None = None


@dataclass
class Parts:
    """What a process runs besides its health endpoints."""

    app: FastAPI | None = None
    consume: Sequence[Consume] = ()
    workers: Sequence[Worker] = ()
    checks: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    # Further apps, each on its own port: the gateway's internal API, which other services
    # reach in-cluster and the public ingress never routes to.
    listeners: Sequence[Listener] = ()


Build = Callable[[S, AwsClients, AsyncExitStack], Awaitable[Parts]]


def run_service(name: str, settings: S, build: Build[S]) -> None:
    """The whole life of a service process."""
    configure_logging(name, settings.log_level)
    configure_tracing(name, settings.tracing_exporter)
    asyncio.run(_run(name, settings, build))


async def _run(name: str, settings: S, build: Build[S]) -> None:
    async with AsyncExitStack() as resources:
        clients = await resources.enter_async_context(aws_clients(settings.aws))
        parts = await build(settings, clients, resources)
        app = parts.app or FastAPI(title=f"gas-{name}", docs_url=None, redoc_url=None)
        checks: dict[str, ReadinessCheck] = {}
        workers: list[Worker] = []
        if parts.consume:
            sqs = await clients.client("sqs")
            for spec in parts.consume:
                checks[f"queue {spec.queue}"] = queue_check(sqs, spec.queue)
                workers.append((await _consumer(sqs, spec)).run_until)
            watched = [(name, await queue_url(sqs, name)) for name in _watched_queues(parts)]
            workers.append(partial(watch_queue_depths, sqs, watched))
        checks.update(parts.checks)
        workers.extend(parts.workers)
        listeners = [Listener(app, settings.port), *parts.listeners]
        for listener in listeners:
            add_operations(listener.app, checks)
        await serve(listeners, host=settings.host, workers=tuple(workers))


def add_operations(app: FastAPI, checks: Mapping[str, ReadinessCheck]) -> None:
    """``/healthz``, ``/readyz`` and ``/metrics``, ahead of the app's own routes so that no
    catch-all of the app (the web app's) can shadow them, the HTTP metrics and tracing, and a
    405 that lists all the path's methods in ``Allow``."""
    app.router.routes[0:0] = [*health_router(checks).routes, *metrics_router().routes]
    install_allow(app)
    app.add_middleware(HttpTracing)
    app.add_middleware(HttpMetrics)


def _watched_queues(parts: Parts) -> list[str]:
    """The queues consumed and the dead-letter queue of each (unless it is consumed too)."""
    consumed = [spec.queue for spec in parts.consume]
    dead_letters = {StackSettings.dead_letter_queue(name) for name in consumed}
    own = [StackSettings.dead_letter_queue(n) for n in consumed if n not in dead_letters]
    return list(dict.fromkeys([*consumed, *own]))


async def _consumer(sqs: SQSClient, spec: Consume) -> SqsConsumer[Any]:
    url = await queue_url(sqs, spec.queue)
    if spec.parse is None:
        return SqsConsumer(sqs, url, spec.handler, spec.options)
    return SqsConsumer(sqs, url, spec.handler, spec.options, parse=spec.parse)
