"""`make dev`: the whole GAS stack on one machine, in the foreground, on embedded defaults.

Starts a moto server (AWS), PostgreSQL (``DATABASE_URL`` or a private cluster under
``.local/postgres``), bootstraps the infrastructure, then runs every service as a child
process with its log lines prefixed by its name. Waits until every ``/readyz`` is green and
prints the URLs. A service that exits is announced loudly. Ctrl-C (or SIGTERM) stops
everything this script started, in reverse order, by PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gas_core.localstack import MotoServer, PrivatePostgres, http_ok, spawn, stop_processes

ROOT = Path(__file__).resolve().parent.parent
LOCAL = Path(os.environ.get("GAS_DEV_STATE_DIR", ROOT / ".local"))
READY_TIMEOUT = float(os.environ.get("GAS_DEV_READY_TIMEOUT", "90"))
PORT_BASE = int(os.environ.get("GAS_DEV_PORT_BASE", "8000"))
MOTO_PORT = int(os.environ.get("GAS_DEV_MOTO_PORT", "4566"))
POSTGRES_PORT = int(os.environ.get("GAS_DEV_POSTGRES_PORT", "5544"))
IDP_PORT = int(os.environ.get("GAS_DEV_IDP_PORT", str(PORT_BASE + 10)))
# The dev IdP's users (services/idp/users.json) that get an account before their first login.
DEV_ACCOUNTS = [("free@example.org", "free"), ("premium@example.org", "premium")]
PLAIN = bool(os.environ.get("NO_COLOR"))
COLOURS = ["\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m", "\033[96m", "\033[95m"]
RESET, RED, BOLD = ("", "", "") if PLAIN else ("\033[0m", "\033[31m", "\033[1m")
if PLAIN:
    COLOURS = [""]


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    ready_url: str | None
    colour: str
    exited_reported: bool = False


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
    for worker in ("NOTIFIER", "ARCHIVER"):
        env.setdefault(f"GAS_{worker}_GATEWAY_URL", f"http://127.0.0.1:{PORT_BASE}")
    env.setdefault("GAS_NOTIFIER_PUBLIC_URL", f"http://127.0.0.1:{PORT_BASE}")
    return env


def start_dependencies(stack: Stack) -> None:
    moto_url = stack.env["GAS_AWS_ENDPOINT_URL"]
    if moto_url == f"http://127.0.0.1:{MOTO_PORT}":
        say(f"starting moto server on {moto_url}")
        stack.moto = MotoServer(MOTO_PORT).start()
    else:
        say(f"using AWS endpoint {moto_url}")
    if "DATABASE_URL" in stack.env:
        say("using DATABASE_URL for PostgreSQL")
    else:
        say(f"starting private PostgreSQL in {LOCAL / 'postgres'} on port {POSTGRES_PORT}")
        stack.postgres = PrivatePostgres(LOCAL / "postgres", port=POSTGRES_PORT).start()
        stack.env["DATABASE_URL"] = stack.postgres.url
    say("bootstrapping infrastructure (gas-admin infra up)")
    subprocess.run(
        [
            sys.executable, "-m", "gas_core.admin", "infra", "up",
            # The web app uploads from the gateway's page straight to the inputs bucket.
            "--cors-origin", f"http://127.0.0.1:{PORT_BASE}",
            "--cors-origin", f"http://localhost:{PORT_BASE}",
        ],
        env=stack.env,
        check=True,
    )  # fmt: skip


def seed_dev_accounts(stack: Stack) -> None:
    for email, tier in DEV_ACCOUNTS:
        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "gas_core.admin",
                "users",
                "create",
                "--email",
                email,
                "--tier",
                tier,
            ],
            env=stack.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if created.returncode != 0 and "already exists" not in created.stderr:
            raise subprocess.CalledProcessError(
                created.returncode, created.args, stderr=created.stderr
            )
    say(f"dev accounts: {', '.join(f'{tier} (login {tier}/{tier})' for _, tier in DEV_ACCOUNTS)}")


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
    process = spawn(["node", str(ROOT / "services" / "idp" / "server.js")], env=env)
    ready = f"{stack.env['GAS_GATEWAY_OIDC_ISSUER']}/.well-known/openid-configuration"
    stack.children.append(Child("idp", process, ready, COLOURS[-1]))


def start_services(stack: Stack) -> None:
    for index, (name, port) in enumerate(SERVICES):
        env = {**stack.env, f"GAS_{name.upper()}_PORT": str(port)}
        process = spawn([sys.executable, "-m", f"gas_{name}"], env=env)
        colour = COLOURS[index % len(COLOURS)]
        stack.children.append(Child(name, process, f"http://127.0.0.1:{port}/readyz", colour))


def pump_logs(stack: Stack) -> None:
    selector = selectors.DefaultSelector()
    width = max(len(child.name) for child in stack.children)
    for child in stack.children:
        assert child.process.stdout is not None
        selector.register(child.process.stdout, selectors.EVENT_READ, child)
    while selector.get_map():
        for key, _ in selector.select(timeout=0.5):
            child = key.data
            line = key.fileobj.readline()  # type: ignore[union-attr]
            if not line:
                selector.unregister(key.fileobj)
                continue
            text = render(line.decode(errors="replace").rstrip())
            print(f"{child.colour}{child.name:>{width}} |{RESET} {text}", flush=True)


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
    while not stack.stopping.is_set():
        for child in stack.children:
            code = child.process.poll()
            if code is not None and not child.exited_reported and not stack.stopping.is_set():
                child.exited_reported = True
                banner = f"{RED}{BOLD}{'!' * 72}{RESET}"
                print(banner, flush=True)
                say(
                    f"{RED}{BOLD}SERVICE {child.name.upper()} EXITED with code {code}{RESET} "
                    "— see its log lines above; restart `make dev` after fixing it",
                    RED,
                )
                print(banner, flush=True)
        time.sleep(0.5)


def wait_until_ready(stack: Stack) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    pending = {child.name: child for child in stack.children if child.ready_url}
    while pending and time.monotonic() < deadline and not stack.stopping.is_set():
        for name, child in list(pending.items()):
            if child.process.poll() is not None:
                return False
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
    stop_processes([child.process for child in stack.children], grace=30)
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
    try:
        start_dependencies(stack)
        seed_dev_accounts(stack)
        start_idp(stack)
        start_services(stack)
        threading.Thread(target=pump_logs, args=(stack,), daemon=True).start()
        threading.Thread(target=watch_for_crashes, args=(stack,), daemon=True).start()
        if wait_until_ready(stack):
            print_urls(stack, started)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except subprocess.CalledProcessError as error:
        say(f"{RED}{error}{RESET}", RED)
    finally:
        shutdown(stack)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
