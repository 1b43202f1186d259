"""Starting the embedded local dependencies as real processes: the moto server and a
private PostgreSQL cluster. Used by ``make dev`` and by the integration tests."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], T | None], *, timeout: float, what: str, every: float = 0.2
) -> T:
    """Poll ``check`` until it answers something truthy and return that answer; past the
    timeout, fail naming ``what`` and the last answer."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f}s (last answer: {last!r})")


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code < 500
    except httpx.HTTPError:
        return False


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    """SIGTERM the process group we started, then SIGKILL what is left."""
    stop_processes([process], grace=grace)


def stop_processes(processes: Sequence[subprocess.Popen[bytes]], *, grace: float = 10.0) -> None:
    """Stop several process groups at once: SIGTERM to all, then SIGKILL whatever outlives
    ``grace`` — so shutdown takes as long as the slowest one, not the sum."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def spawn(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdout: int | None = subprocess.PIPE,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in its own process group so it can be stopped with everything it forked."""
    return subprocess.Popen(
        list(command),
        env=env,
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class MotoServer:
    """The moto server as a process; with ``state_file`` its state survives a restart."""

    def __init__(
        self,
        port: int | None = None,
        *,
        stdout: int | None = subprocess.DEVNULL,
        state_file: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._stdout = stdout
        self._state_file = state_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> MotoServer:
        if http_ok(f"{self.url}/moto-api/"):
            raise RuntimeError(f"port {self.port} already answers; stop that server first")
        self.process = spawn(
            [
                sys.executable,
                "-m",
                "gas_testing.motoserver",
                "-H",
                "127.0.0.1",
                "-p",
                str(self.port),
                *(["--state", str(self._state_file)] if self._state_file else []),
            ],
            stdout=self._stdout,
        )
        wait_until(lambda: http_ok(f"{self.url}/moto-api/"), timeout=timeout, what="moto server")
        return self

    def reset(self) -> None:
        httpx.post(f"{self.url}/moto-api/reset", timeout=10)

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)


# Where clusters live when they are run by another user: see PrivatePostgres.
RELOCATED_CLUSTERS = Path("/var/lib/gas-dev/postgres")


class PrivatePostgres:
    """A PostgreSQL cluster of our own for the folder ``home``: initialised on first use, its
    data kept across restarts until ``discard``.

    PostgreSQL refuses to run as root, so as root the cluster is owned by and run as the
    ``postgres`` system user. That user cannot enter a checkout under root's home or inside a
    mode-700 temporary folder, so then the data lives where it can: in
    ``/var/lib/gas-dev/postgres/<hash of home>`` — the same folder for the same ``home`` every
    time. Otherwise the data lives in ``home`` itself.
    """

    def __init__(self, home: Path, port: int | None = None) -> None:
        self.home = home.resolve()
        self.port = port or free_port()
        self._run_as = _unprivileged_user()
        if self._run_as:
            key = hashlib.sha256(str(self.home).encode()).hexdigest()[:16]
            self.data_dir = RELOCATED_CLUSTERS / key
        else:
            self.data_dir = self.home

    @property
    def url(self) -> str:
        return f"postgresql://gas@127.0.0.1:{self.port}/gas"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            self._command(*args), capture_output=True, text=True, check=False, cwd=self._cwd()
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL {args[0]} failed (exit {result.returncode}) for {self.data_dir}"
                + (f" as user {self._run_as}" if self._run_as else "")
                + f": {(result.stderr or result.stdout).strip()[-1500:]}"
            )

    def _command(self, *args: str) -> list[str]:
        binary = _pg_binary(args[0])
        command = [binary, *args[1:]]
        if self._run_as:
            return ["runuser", "-u", self._run_as, "--", *command]
        return command

    def _cwd(self) -> Path:
        # Our own working directory may be one the server's user cannot enter.
        return self.data_dir.parent

    def start(self, timeout: float = 60.0) -> PrivatePostgres:
        fresh = not (self.data_dir / "PG_VERSION").exists()
        if fresh:
            if self._run_as:
                for folder in (RELOCATED_CLUSTERS.parent, RELOCATED_CLUSTERS):
                    folder.mkdir(exist_ok=True)
                    folder.chmod(0o755)
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self._run_as:
                shutil.chown(self.data_dir, user=self._run_as)
            self._run("initdb", "-D", str(self.data_dir), "-U", "gas", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1"
        log_file = str(self.data_dir / "server.log")
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", log_file, "-o", options,
            "-w", "-t", str(int(timeout)), "start",
        )  # fmt: skip
        if fresh:
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "gas", "gas")
        return self

    def stop(self) -> None:
        if not self.data_dir.exists():
            return
        subprocess.run(
            self._command("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"),
            check=False,
            capture_output=True,
            cwd=self._cwd(),
        )

    def discard(self) -> None:
        """Stop the cluster and delete its data."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _unprivileged_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no 'postgres' user exists to own the cluster")


def _pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    if candidates:
        return str(candidates[0])
    raise FileNotFoundError(
        f"{name} not found: install PostgreSQL server binaries or set DATABASE_URL"
    )


def set_restore_speed(moto_url: str, seconds: float | None) -> None:
    """Make moto's restores take ``seconds`` per step (requested → ongoing → done), or
    ``None`` for its default (done at the first read)."""
    if seconds is None:
        response = httpx.post(
            f"{moto_url}/moto-api/state-manager/unset-transition",
            json={"model_name": "s3::keyrestore"},
        )
    else:
        response = httpx.post(
            f"{moto_url}/moto-api/state-manager/set-transition",
            json={
                "model_name": "s3::keyrestore",
                "transition": {"progression": "time", "seconds": seconds},
            },
        )
    response.raise_for_status()
