"""Running a service process: an HTTP app plus optional background workers, stopped on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` owns SIGTERM/SIGINT for the process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


Worker = Callable[[asyncio.Event], Awaitable[None]]


async def serve(app: FastAPI, *, host: str, port: int, workers: tuple[Worker, ...] = ()) -> None:
    """Serve ``app`` and run each worker until SIGTERM/SIGINT.

    A worker gets the stop event and must return soon after it is set (finishing or
    releasing its in-flight work). The HTTP server stops after the workers, so health
    probes keep answering while work drains.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="on")
    server = _Server(config)
    http = asyncio.create_task(server.serve())
    running = [asyncio.ensure_future(worker(stop)) for worker in workers]

    await asyncio.wait(
        [http, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if http.done() and not stop.is_set():
        stop.set()  # the HTTP server died (e.g. the port is taken): stop the workers too
    log.info("stopping")
    if running:
        results = await asyncio.gather(*running, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.error("worker ended with %r", result)
    server.should_exit = True
    await http
    if http.exception() or not server.started:
        raise SystemExit(f"HTTP server on {host}:{port} did not run")


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
