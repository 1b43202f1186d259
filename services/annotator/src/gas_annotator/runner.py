"""Runs the engine child process from the event loop and reads what it reports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gas_annotator.engine import EXIT_INPUT_ERROR

log = logging.getLogger(__name__)

ProgressSink = Callable[[float], None]


class EngineFailed(Exception):
    """The engine crashed or was killed: an infrastructure problem, worth a retry."""


@dataclass(frozen=True)
class InputRefused:
    """anntools refused the file; the reason names the problem (and line)."""

    reason: str
    line: int | None


@dataclass(frozen=True)
class Annotated:
    summary: dict[str, Any]


EngineOutcome = Annotated | InputRefused


async def run_engine(
    command: str,
    arguments: dict[str, Any],
    *,
    on_progress: ProgressSink | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Run one engine command; returns its exit code and the messages it printed.

    Cancelling the caller kills the child at once.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gas_annotator.engine",
        command,
        json.dumps(arguments),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
        limit=16 * 1024 * 1024,
    )
    assert process.stdout is not None and process.stderr is not None
    messages: list[dict[str, Any]] = []
    errors = asyncio.ensure_future(process.stderr.read())
    try:
        async for raw in process.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                log.warning("engine printed %r", raw[:200])
                continue
            if "progress" in message:
                if on_progress:
                    on_progress(float(message["progress"]))
            else:
                messages.append(message)
        code = await process.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        errors.cancel()
        raise
    stderr = (await errors).decode(errors="replace")
    if code not in (0, EXIT_INPUT_ERROR):
        raise EngineFailed(f"engine {command} exited with {code}: {stderr[-2000:]}")
    return code, messages


async def annotate(
    *,
    input_path: Path,
    output_path: Path,
    log_path: Path,
    build: str | None,
    bundle_dir: Path | None,
    cache_dir: Path | None,
    on_progress: ProgressSink,
) -> EngineOutcome:
    code, messages = await run_engine(
        "annotate",
        {
            "input_path": str(input_path),
            "output_path": str(output_path),
            "log_path": str(log_path),
            "build": build,
            "bundle_dir": str(bundle_dir) if bundle_dir else None,
        },
        on_progress=on_progress,
        env={"ANNTOOLS_CACHE": str(cache_dir)} if cache_dir else None,
    )
    final = messages[-1] if messages else {}
    if code == EXIT_INPUT_ERROR and "input_error" in final:
        return InputRefused(reason=str(final["input_error"]), line=final.get("line"))
    if code == 0 and "summary" in final:
        return Annotated(summary=dict(final["summary"]))
    raise EngineFailed(f"engine ended with {code} without a result: {messages[-3:]}")


async def build_bundle(*, build: str, cache_dir: Path | None) -> Path:
    _, messages = await run_engine(
        "bundle", {"build": build, "cache_dir": str(cache_dir) if cache_dir else None}
    )
    return Path(messages[-1]["bundle_dir"])
