"""Running a service process: its HTTP apps plus optional background workers, stopped on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` owns SIGTERM/SIGINT for the process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


Worker = Callable[[asyncio.Event], Awaitable[None]]


@dataclass(frozen=True)
class Listener:
    """An HTTP app and the port it is served on."""

    app: FastAPI
    port: int


async def serve(
    listeners: Sequence[Listener], *, host: str, workers: tuple[Worker, ...] = ()
) -> None:
    """Serve each listener's app on its port and run each worker until SIGTERM/SIGINT.

    A worker gets the stop event and must return soon after it is set (finishing or
    releasing its in-flight work). The HTTP servers stop after the workers, so health
    probes keep answering while work drains; if one server dies (e.g. its port is taken),
    everything stops.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    servers = [
        _Server(
            uvicorn.Config(
                listener.app, host=host, port=listener.port, log_config=None, lifespan="on"
            )
        )
        for listener in listeners
    ]
    http = [asyncio.create_task(server.serve()) for server in servers]
    running = [asyncio.ensure_future(worker(stop)) for worker in workers]

    await asyncio.wait(
        [*http, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if any(task.done() for task in http) and not stop.is_set():
        stop.set()  # an HTTP server died: stop the workers too
    log.info("stopping")
    if running:
        results = await asyncio.gather(*running, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.error("worker ended with %r", result)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*http, return_exceptions=True)
    failed = [
        str(listener.port)
        for listener, server, task in zip(listeners, servers, http, strict=True)
        if task.exception() or not server.started
    ]
    if failed:
        raise SystemExit(f"HTTP server on {host} port {', '.join(failed)} did not run")


async def every(
    stop: asyncio.Event, seconds: float, action: Callable[[], Awaitable[object]], *, what: str
) -> None:
    """Run ``action`` now and then every ``seconds`` until ``stop`` is set; a failed run is
    logged and the next one happens on schedule."""
    while not stop.is_set():
        try:
            await action()
        except Exception:
            log.exception("%s failed; trying again in %.0f s", what, seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
