"""The moto server, with DynamoDB requests applied one at a time.

moto's server handles requests on many threads and does not lock its DynamoDB tables, so two
concurrent conditional writes can both succeed — which real DynamoDB never allows, and which
every race-safety guarantee of GAS (claims, leases, storage transitions) relies on. Running
DynamoDB calls under one lock restores that; the other services stay concurrent (SQS long
polls must not block each other).

With ``--state FILE`` the server also keeps its state across a stop or a crash: moto keeps
everything in memory and has no persistence of its own (its recorder replays requests, which
does not rebuild state), so the launcher pickles moto's in-memory backends to ``FILE`` (written
aside, then renamed) every ``--save-every`` seconds when a request came in since the last save,
and on SIGTERM, and loads them at start. A crash loses at most one interval. The snapshot
depends on moto's internal classes, so it records moto's version and a different version
starts empty (saying so). Local development only: the file is trusted like any local state.

``GET /gas-testing/ses/sent`` answers the mails SES accepted as JSON, cheaply: moto's own
``/moto-api/data.json`` dumps every model instance it ever created, which takes longer than a
client waits once hundreds of jobs have gone through.

Run as ``python -m gas_testing.motoserver -H HOST -p PORT [--state FILE]``.
"""

from __future__ import annotations

import argparse
import copyreg
import io
import json
import logging
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import moto
from moto.backends import get_backend
from moto.core.base_backend import BackendDict
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
log = logging.getLogger("gas_testing.motoserver")
# Locks and conditions inside moto's models (an SQS queue's, an S3 key's) are recreated empty.
_LOCK_TYPES = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
    threading.Condition: threading.Condition,
}


DYNAMODB_LOCK = threading.Lock()


def serialise_dynamodb(app: WsgiApp) -> WsgiApp:
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with DYNAMODB_LOCK:
            # Drain the body inside the lock: the write happens while it is produced.
            return list(app(environ, start_response))

    return wrapped


SENT_MAIL_PATH = "/gas-testing/ses/sent"


def expose_sent_mail(app: WsgiApp) -> WsgiApp:
    """Answer ``GET /gas-testing/ses/sent`` with SES's sent messages: for each its id,
    destinations and either ``raw_data`` (SendRawEmail) or ``source``, ``subject`` and ``body``."""
    from moto.ses.models import ses_backends

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != SENT_MAIL_PATH:
            return app(environ, start_response)
        mails = [
            {
                "id": message.id,
                "destinations": message.destinations,
                **{
                    name: getattr(message, name)
                    for name in ("raw_data", "subject", "body", "source")
                    if isinstance(getattr(message, name, None), str)
                },
            }
            for regions in list(ses_backends.values())
            for backend in list(regions.values())
            for message in list(backend.sent_messages)
        ]
        body = json.dumps(mails).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return wrapped


def _recreated_as(make: Callable[[], object]) -> Callable[[object], tuple[Any, ...]]:
    def reduce(_: object) -> tuple[Any, ...]:
        return (make, ())

    return reduce


class StateFile:
    """moto's backends pickled to a file, and loaded back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.dirty = threading.Event()
        self._saving = threading.Lock()

    def track(self, app: WsgiApp) -> WsgiApp:
        """Mark the state changed on every request (reads of moto's own API aside)."""

        def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if not str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
                self.dirty.set()
            return app(environ, start_response)

        return wrapped

    def load(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            saved = pickle.load(handle)
        if saved.get("moto") != moto.__version__:
            log.warning(
                "state in %s was saved by moto %s, this is %s: starting empty",
                self.path,
                saved.get("moto"),
                moto.__version__,
            )
            return
        for service, accounts in saved["backends"].items():
            backends = get_backend(service)
            for account, regions in accounts.items():
                for region, backend in regions.items():
                    dict.__setitem__(backends[account], region, backend)
        log.warning("loaded moto state from %s", self.path)

    def save(self) -> None:
        with self._saving:
            self.dirty.clear()
            backends = {
                backend_dict.service_name: {
                    account: dict(regions) for account, regions in backend_dict.items()
                }
                for backend_dict in list(BackendDict._instances)  # type: ignore[misc]
            }
            buffer = io.BytesIO()
            pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
            pickler.dispatch_table = copyreg.dispatch_table.copy()
            for lock_type, make in _LOCK_TYPES.items():
                pickler.dispatch_table[lock_type] = _recreated_as(make)
            with DYNAMODB_LOCK:  # a consistent table, whatever else is going on
                pickler.dump({"moto": moto.__version__, "backends": backends})
            partial = self.path.with_name(f".{self.path.name}.partial")
            partial.write_bytes(buffer.getvalue())
            os.replace(partial, self.path)

    def save_periodically(self, every: float) -> None:
        while True:
            self.dirty.wait()
            threading.Event().wait(every)
            try:
                self.save()
            except Exception:  # a failed save is retried at the next change
                log.exception("could not save moto state to %s", self.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("--state", type=Path, help="keep the state in this file across restarts")
    parser.add_argument("--save-every", type=float, default=2.0, help="seconds between saves")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto's own launcher does
    app: WsgiApp = expose_sent_mail(
        serialise_dynamodb(DomainDispatcherApplication(create_backend_app))
    )
    state = StateFile(args.state) if args.state else None

    def stop(*_: object) -> None:
        if state:
            state.save()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    if state:
        state.load()
        app = state.track(app)
        threading.Thread(
            target=state.save_periodically, args=(args.save_every,), daemon=True
        ).start()
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
