"""Prometheus metrics that every GAS process exposes at ``/metrics``.

The generic ones are recorded here: HTTP requests by route template and status, queue
messages by outcome and handling time, and the depth of each queue a process consumes (and
of its dead-letter queue). Services add their own domain counters next to their code with
the ``gas_`` prefix. Each process is one service, so no ``service`` label: the scrape's
``job``/``instance`` labels say which.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "gas_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "gas_http_request_seconds", "Time to answer an HTTP request", ["method", "route"]
)
MESSAGES = Counter(
    "gas_queue_messages_handled_total",
    "Queue messages by outcome: done (deleted), retried (asked to come back), failed "
    "(handler error; redelivered), released (stopping), unreadable (left for the DLQ)",
    ["queue", "outcome"],
)
MESSAGE_SECONDS = Histogram(
    "gas_queue_message_seconds",
    "Time a handler spent on a message",
    ["queue"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
QUEUE_MESSAGES = Gauge(
    "gas_queue_messages",
    "Messages in a queue this process consumes: visible, in_flight or delayed",
    ["queue", "state"],
)
_QUEUE_ATTRIBUTES = {
    "ApproximateNumberOfMessages": "visible",
    "ApproximateNumberOfMessagesNotVisible": "in_flight",
    "ApproximateNumberOfMessagesDelayed": "delayed",
}


def metrics_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class StatusRecorder:
    """An ASGI ``send`` that remembers the status of the response it passes on (500 when the
    app never started one)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        await self._send(message)


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (``/jobs/{job_id}``), once routing has run."""
    route = getattr(scope.get("route"), "path", None)
    return str(route) if route else None


class HttpMetrics:
    """ASGI middleware: count and time every HTTP request by its route template (never the
    raw path, which would make a series per job id)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        response = StatusRecorder(send)
        try:
            await self.app(scope, receive, response)
        finally:
            route = route_template(scope) or "unmatched"
            method = str(scope.get("method", ""))
            HTTP_REQUESTS.labels(method, route, str(response.status)).inc()
            HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)


async def watch_queue_depths(
    sqs: Any, queues: Sequence[tuple[str, str]], stop: asyncio.Event, *, every: float = 15.0
) -> None:
    """Keep ``gas_queue_messages`` current for each (name, url) until ``stop`` is set."""
    while not stop.is_set():
        for name, url in queues:
            try:
                response = await sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=list(_QUEUE_ATTRIBUTES)
                )
            except Exception:
                log.warning("could not read the depth of queue %s", name, exc_info=True)
                continue
            for attribute, state in _QUEUE_ATTRIBUTES.items():
                value = int(response.get("Attributes", {}).get(attribute, 0))
                QUEUE_MESSAGES.labels(name, state).set(value)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            continue
