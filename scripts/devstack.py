"""`make dev`: the whole GAS stack on one machine, in the foreground, on embedded defaults.

Starts a moto server (AWS), PostgreSQL (``DATABASE_URL`` or a private cluster for
``.local/postgres``, kept across restarts; as root its data lives under /var/lib/gas-dev, see
``gas_testing.localstack.PrivatePostgres``), bootstraps the infrastructure, then runs every
service as a child process with its log lines prefixed by its name. PostgreSQL starts while
moto and the workers do, and infra up and the dev accounts run in this process, so a warm start
is quick. Waits until every ``/readyz`` is green and prints the URLs. A service that exits is
announced loudly and started again (after 1, 2, 4 ... 30 s if it keeps dying). Ctrl-C (or
SIGTERM) stops everything this script started, by PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gas_core.aws import aws_clients
from gas_core.infra import InfraReport, infra_up
from gas_core.settings import AwsSettings, StackSettings
from gas_core.tiers import Tier
from gas_gateway import accounts
from gas_gateway.db import create_pool, migrate
from gas_testing.localstack import MotoServer, PrivatePostgres, http_ok, spawn, stop_processes

ROOT = Path(__file__).resolve().parent.parent
LOCAL = Path(os.environ.get("GAS_DEV_STATE_DIR", ROOT / ".local"))
READY_TIMEOUT = float(os.environ.get("GAS_DEV_READY_TIMEOUT", "90"))
PORT_BASE = int(os.environ.get("GAS_DEV_PORT_BASE", "8000"))
MOTO_PORT = int(os.environ.get("GAS_DEV_MOTO_PORT", "4566"))
POSTGRES_PORT = int(os.environ.get("GAS_DEV_POSTGRES_PORT", "5544"))
IDP_PORT = int(os.environ.get("GAS_DEV_IDP_PORT", str(PORT_BASE + 10)))
# The gateway's internal API (/internal/*), which the notifier and archiver call.
GATEWAY_INTERNAL_PORT = PORT_BASE + 5
# The dev IdP's users (services/idp/users.json) that get an account before their first login.
DEV_ACCOUNTS = [("free@example.org", "free"), ("premium@example.org", "premium")]
PLAIN = bool(os.environ.get("NO_COLOR"))
COLOURS = ["\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m", "\033[96m", "\033[95m"]
RESET, RED, BOLD = ("", "", "") if PLAIN else ("\033[0m", "\033[31m", "\033[1m")
if PLAIN:
    COLOURS = [""]


@dataclass
class Child:
    """A process of the stack; ``command`` and ``env`` start it again after a crash."""

    name: str
    command: list[str]
    env: dict[str, str]
    ready_url: str | None
    colour: str
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0

    def start(self) -> None:
        self.process = spawn(self.command, env=self.env)
        self.started_at = time.monotonic()
        threading.Thread(target=pump_logs, args=(self, self.process), daemon=True).start()


@dataclass
class Stack:
    env: dict[str, str]
    children: list[Child] = field(default_factory=list)
    moto: MotoServer | None = None
    postgres: PrivatePostgres | None = None
    stopping: threading.Event = field(default_factory=threading.Event)


SERVICES: list[tuple[str, int]] = [
    ("jobs", PORT_BASE + 1),
    ("annotator", PORT_BASE + 2),
    ("notifier", PORT_BASE + 3),
    ("archiver", PORT_BASE + 4),
    ("gateway", PORT_BASE),
]
NAME_WIDTH = max(len(name) for name, _ in SERVICES)
# A crashed service is started again after 1, 2, 4 ... 30 s; one that ran a minute starts over.
RESTART_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STABLE_SECONDS = 60.0


def say(message: str, colour: str = BOLD) -> None:
    print(f"{colour}[dev]{RESET} {message}", flush=True)


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GAS_ENVIRONMENT", "development")
    env.setdefault("GAS_PREFIX", "gas-dev")
    env.setdefault("GAS_AWS_ENDPOINT_URL", f"http://127.0.0.1:{MOTO_PORT}")
    env.setdefault("GAS_AWS_REGION", "us-east-1")
    env.setdefault("GAS_AWS_ACCESS_KEY_ID", "dev")
    env.setdefault("GAS_AWS_SECRET_ACCESS_KEY", "dev")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("GAS_GATEWAY_JOBS_URL", f"http://127.0.0.1:{PORT_BASE + 1}")
    env.setdefault("GAS_GATEWAY_OIDC_ISSUER", f"http://127.0.0.1:{IDP_PORT}")
    env.setdefault("GAS_GATEWAY_INTERNAL_PORT", str(GATEWAY_INTERNAL_PORT))
    for worker in ("NOTIFIER", "ARCHIVER"):
        env.setdefault(f"GAS_{worker}_GATEWAY_URL", f"http://127.0.0.1:{GATEWAY_INTERNAL_PORT}")
    env.setdefault("GAS_NOTIFIER_PUBLIC_URL", f"http://127.0.0.1:{PORT_BASE}")
    return env


def start_aws(stack: Stack) -> None:
    """The moto server (unless GAS_AWS_ENDPOINT_URL points elsewhere), then `infra up`."""
    moto_url = stack.env["GAS_AWS_ENDPOINT_URL"]
    if moto_url == f"http://127.0.0.1:{MOTO_PORT}":
        say(f"starting moto server on {moto_url} (state kept in {LOCAL / 'moto-state.pickle'})")
        stack.moto = MotoServer(MOTO_PORT, state_file=LOCAL / "moto-state.pickle").start()
    else:
        say(f"using AWS endpoint {moto_url}")
    # The web app uploads from the gateway's page straight to the inputs bucket.
    origins = (f"http://127.0.0.1:{PORT_BASE}", f"http://localhost:{PORT_BASE}")

    async def bootstrap() -> InfraReport:
        async with aws_clients(AwsSettings()) as clients:
            return await infra_up(clients, StackSettings(), cors_origins=origins)

    report = asyncio.run(bootstrap())
    counts = {state: len(items) for state, items in report.as_dict().items()}
    say(
        "infrastructure ready (infra up: "
        + ", ".join(f"{count} {state}" for state, count in counts.items())
        + ")"
    )


def start_database(stack: Stack) -> None:
    """PostgreSQL (DATABASE_URL or the private cluster), migrated, with the dev accounts."""
    if "DATABASE_URL" in stack.env:
        say("using DATABASE_URL for PostgreSQL")
    else:
        stack.postgres = PrivatePostgres(LOCAL / "postgres", port=POSTGRES_PORT)
        say(f"starting private PostgreSQL in {stack.postgres.data_dir} on port {POSTGRES_PORT}")
        stack.postgres.start()
        stack.env["DATABASE_URL"] = stack.postgres.url
    asyncio.run(seed_dev_accounts(stack.env["DATABASE_URL"]))
    say(f"dev accounts: {', '.join(f'{tier} (login {tier}/{tier})' for _, tier in DEV_ACCOUNTS)}")


async def seed_dev_accounts(database_url: str) -> None:
    await migrate(database_url)
    pool = await create_pool(database_url)
    try:
        for email, tier in DEV_ACCOUNTS:
            if await accounts.get_user_by_email(pool, email) is None:
                await accounts.insert_user(pool, email=email, name="", tier=Tier(tier))
    finally:
        await pool.close()


def start_idp(stack: Stack) -> None:
    """The dev OpenID Connect provider (services/idp), its signing key kept in .local/idp."""
    gateway = f"http://127.0.0.1:{PORT_BASE}"
    env = {
        **stack.env,
        "GAS_IDP_PORT": str(IDP_PORT),
        "GAS_IDP_ISSUER": stack.env["GAS_GATEWAY_OIDC_ISSUER"],
        "GAS_IDP_DATA_DIR": str(LOCAL / "idp"),
        "GAS_IDP_REDIRECT_URIS": f"{gateway}/auth/callback",
        "GAS_IDP_POST_LOGOUT_REDIRECT_URIS": f"{gateway}/",
    }
    ready = f"{stack.env['GAS_GATEWAY_OIDC_ISSUER']}/.well-known/openid-configuration"
    child = Child(
        "idp", ["node", str(ROOT / "services" / "idp" / "server.js")], env, ready, COLOURS[-1]
    )
    stack.children.append(child)
    child.start()


def start_services(stack: Stack, names: set[str]) -> None:
    for index, (name, port) in enumerate(SERVICES):
        if name not in names:
            continue
        env = {**stack.env, f"GAS_{name.upper()}_PORT": str(port)}
        colour = COLOURS[index % len(COLOURS)]
        child = Child(
            name,
            [sys.executable, "-m", f"gas_{name}"],
            env,
            f"http://127.0.0.1:{port}/readyz",
            colour,
        )
        stack.children.append(child)
        child.start()


def pump_logs(child: Child, process: subprocess.Popen[bytes]) -> None:
    """Print one process's output, each line prefixed with its service's name."""
    assert process.stdout is not None
    for line in process.stdout:
        text = render(line.decode(errors="replace").rstrip())
        print(f"{child.colour}{child.name:>{NAME_WIDTH}} |{RESET} {text}", flush=True)


def render(line: str) -> str:
    """A service's JSON log line as one readable line; anything else as it came."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    if not isinstance(entry, dict) or "msg" not in entry:
        return line
    level = str(entry.pop("level", "info"))
    stamp = str(entry.pop("ts", ""))[11:19]
    message = entry.pop("msg")
    for key in ("service", "logger"):
        entry.pop(key, None)
    exc = entry.pop("exc", None)
    extras = " ".join(f"{key}={value}" for key, value in entry.items())
    colour = RED if level in {"warning", "error", "critical"} else ""
    text = f"{stamp} {colour}{level:<7}{RESET} {message}" + (f"  {extras}" if extras else "")
    return f"{text}\n{exc}" if exc else text


def watch_for_crashes(stack: Stack) -> None:
    """Announce a crashed service loudly and start it again, backing off if it keeps dying."""
    due: dict[str, float] = {}
    while not stack.stopping.is_set():
        now = time.monotonic()
        for child in stack.children:
            assert child.process is not None
            code = child.process.poll()
            if code is None or stack.stopping.is_set():
                continue
            if child.name not in due:
                if now - child.started_at > STABLE_SECONDS:
                    child.restarts = 0
                delay = RESTART_DELAYS[min(child.restarts, len(RESTART_DELAYS) - 1)]
                due[child.name] = now + delay
                banner = f"{RED}{BOLD}{'!' * 72}{RESET}"
                print(banner, flush=True)
                say(
                    f"{RED}{BOLD}SERVICE {child.name.upper()} EXITED with code {code}{RESET}"
                    f" — see its log lines above; starting it again in {delay:.0f} s",
                    RED,
                )
                print(banner, flush=True)
            elif now >= due[child.name]:
                del due[child.name]
                child.restarts += 1
                say(f"restarting {child.name} (restart {child.restarts})", RED)
                child.start()
        time.sleep(0.3)


def wait_until_ready(stack: Stack) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    pending = {child.name: child for child in stack.children if child.ready_url}
    while pending and time.monotonic() < deadline and not stack.stopping.is_set():
        for name, child in list(pending.items()):
            assert child.ready_url
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(child.ready_url, timeout=1.0).status_code == 200:
                    del pending[name]
        time.sleep(0.3)
    if pending:
        say(f"{RED}not ready after {READY_TIMEOUT:.0f}s: {', '.join(pending)}{RESET}", RED)
        return False
    return True


def print_urls(stack: Stack, started: float) -> None:
    say(f"{BOLD}all services ready in {time.monotonic() - started:.1f}s{RESET}")
    rows = [(name, f"http://127.0.0.1:{port}") for name, port in SERVICES]
    rows.insert(0, ("GAS (open this)", f"http://127.0.0.1:{PORT_BASE}"))
    internal = stack.env["GAS_GATEWAY_INTERNAL_PORT"]
    rows.append(("gateway internal", f"http://127.0.0.1:{internal} (/internal/*, services only)"))
    rows.append(("dev IdP", stack.env["GAS_GATEWAY_OIDC_ISSUER"]))
    rows.append(("moto (AWS)", stack.env["GAS_AWS_ENDPOINT_URL"]))
    rows.append(("PostgreSQL", stack.env["DATABASE_URL"]))
    for label, url in rows:
        print(f"    {label:<16} {url}", flush=True)
    say("Ctrl-C stops everything")


def shutdown(stack: Stack) -> None:
    # A second Ctrl-C (or the SIGTERM a wrapper forwards) must not abort the clean-up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stack.stopping.set()
    say("stopping services")
    stop_processes([child.process for child in stack.children if child.process], grace=30)
    if stack.postgres:
        say("stopping PostgreSQL")
        stack.postgres.stop()
    if stack.moto:
        say("stopping moto")
        stack.moto.stop()
    say("stopped")


def main() -> int:
    started = time.monotonic()
    stack = Stack(env=base_env())
    # Explicitly, because a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    for port in [port for _, port in SERVICES]:
        if http_ok(f"http://127.0.0.1:{port}/healthz"):
            say(f"{RED}port {port} is already serving: is another `make dev` running?{RESET}", RED)
            return 1
    # In-process steps (infra up, the dev accounts) read the same settings as the services.
    os.environ.update(stack.env)
    try:
        start_idp(stack)
        with ThreadPoolExecutor(max_workers=1) as background:
            database = background.submit(start_database, stack)
            start_aws(stack)
            start_services(stack, {"jobs", "annotator", "notifier", "archiver"})
            database.result()
        start_services(stack, {"gateway"})
        threading.Thread(target=watch_for_crashes, args=(stack,), daemon=True).start()
        if wait_until_ready(stack):
            print_urls(stack, started)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except (subprocess.CalledProcessError, RuntimeError, OSError) as error:
        say(f"{RED}{error}{RESET}", RED)
    finally:
        shutdown(stack)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
