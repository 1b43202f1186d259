"""Drives the engine child processes (see :mod:`gas_annotator.engine`) from the event loop."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ProgressSink = Callable[[float], None]
_STREAM_LIMIT = 16 * 1024 * 1024


class EngineFailed(Exception):
    """The engine crashed or was killed: an infrastructure problem, worth a retry."""


@dataclass(frozen=True)
class InputRefused:
    """anntools refused the file; the reason names the problem (and line)."""

    reason: str


@dataclass(frozen=True)
class TooLarge:
    """The file holds more VCF text (decompressed) than the job's tier allows."""


@dataclass(frozen=True)
class Annotated:
    summary: dict[str, Any]
    # Why the columnar copy could not be written (None: written, or not asked for).
    columnar_error: str | None = None


EngineOutcome = Annotated | InputRefused | TooLarge


async def _spawn(*args: str, env: dict[str, str] | None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gas_annotator.engine",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
        limit=_STREAM_LIMIT,
        # Out of the worker's process group: a SIGTERM or Ctrl-C meant for the worker must
        # not end a run the worker means to finish; the worker decides (and PDEATHSIG ties
        # the child's life to it).
        start_new_session=True,
    )


class WarmEngine:
    """One long-lived engine child that annotates one file at a time.

    It is replaced after ``max_jobs`` runs (bounding any slow growth in memory), after a
    crash, and when a run is cancelled (the child is killed mid-file).
    """

    def __init__(self, *, env: dict[str, str] | None, max_jobs: int) -> None:
        self._env = env
        self._max_jobs = max_jobs
        self._process: asyncio.subprocess.Process | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._stderr_reader: asyncio.Task[None] | None = None
        self._jobs = 0

    async def annotate(
        self, request: dict[str, Any], on_progress: ProgressSink | None
    ) -> EngineOutcome:
        process = await self._running()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            await process.stdin.drain()
            while True:
                raw = await process.stdout.readline()
                if not raw:
                    raise EngineFailed(self._death_note(await process.wait()))
                message = json.loads(raw)
                if "progress" in message:
                    if on_progress:
                        on_progress(float(message["progress"]))
                elif "summary" in message:
                    outcome: EngineOutcome = Annotated(
                        summary=dict(message["summary"]),
                        columnar_error=message.get("columnar_error"),
                    )
                    break
                elif "input_error" in message:
                    outcome = InputRefused(reason=str(message["input_error"]))
                    break
                elif "too_large" in message:
                    outcome = TooLarge()
                    break
        except BaseException:
            await self.close()
            raise
        self._jobs += 1
        if self._jobs >= self._max_jobs:
            await self.close()
        return outcome

    async def start(self) -> None:
        """Start the child now, so the first job does not wait for its imports."""
        await self._running()

    async def _running(self) -> asyncio.subprocess.Process:
        if self._process is None or self._process.returncode is not None:
            self._process = await _spawn("serve", env=self._env)
            self._stderr.clear()
            self._stderr_reader = asyncio.create_task(self._collect_stderr(self._process))
            self._jobs = 0
        return self._process

    async def _collect_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._stderr.append(line)
            log.debug("engine: %s", line)

    def _death_note(self, code: int) -> str:
        return f"the engine exited with {code}: " + "\n".join(self._stderr)[-3000:]

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await process.wait()
        if self._stderr_reader:
            with contextlib.suppress(BaseException):
                await self._stderr_reader


class EnginePool:
    """As many warm engines as the worker runs jobs at once."""

    def __init__(self, *, size: int, cache_dir: Path | None, max_jobs_per_engine: int) -> None:
        env = {"ANNTOOLS_CACHE": str(cache_dir)} if cache_dir else None
        self._engines = [WarmEngine(env=env, max_jobs=max_jobs_per_engine) for _ in range(size)]
        self._idle: asyncio.Queue[WarmEngine] = asyncio.Queue()
        for engine in self._engines:
            self._idle.put_nowait(engine)

    async def annotate(
        self,
        *,
        input_path: Path,
        output_path: Path,
        columnar_path: Path | None = None,
        log_path: Path,
        build: str | None,
        bundle_dir: Path | None,
        max_text_bytes: int,
        on_progress: ProgressSink,
        force_build: bool = False,
    ) -> EngineOutcome:
        engine = await self._idle.get()
        try:
            return await engine.annotate(
                {
                    "input_path": str(input_path),
                    "output_path": str(output_path),
                    "columnar_path": str(columnar_path) if columnar_path else None,
                    "log_path": str(log_path),
                    "build": build,
                    "force_build": force_build,
                    "bundle_dir": str(bundle_dir) if bundle_dir else None,
                    "max_text_bytes": max_text_bytes,
                },
                on_progress,
            )
        finally:
            self._idle.put_nowait(engine)

    async def start(self) -> None:
        await asyncio.gather(*(engine.start() for engine in self._engines))

    async def close(self) -> None:
        await asyncio.gather(*(engine.close() for engine in self._engines))
