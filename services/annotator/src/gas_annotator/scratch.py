"""Whether the worker's scratch space can hold a job: its input, downloaded whole, and the
annotated output written beside it (a bgzipped VCF plus its columnar copy). Checked before
the download, so a multi-GB input that cannot fit fails at once with a clear message
instead of filling the disk hours in."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from gas_core.messaging import RetryLater

GZIP_SUFFIXES = (".gz", ".bgz")


def scratch_needed(*, input_bytes: int, filename: str, reserve_bytes: int) -> int:
    """Bytes a job needs: the input, the output (a compressed input's output is about as
    large, grown by the annotations; a plain text input's about half, once bgzipped) and a
    reserve for the engine's temporary files."""
    compressed = filename.lower().endswith(GZIP_SUFFIXES)
    output = input_bytes * 3 // 2 if compressed else input_bytes // 2
    return input_bytes + output + reserve_bytes


@dataclass(frozen=True)
class Scratch:
    total: int
    free: int


def scratch_of(folder: Path) -> Scratch:
    usage = shutil.disk_usage(folder)
    return Scratch(total=usage.total, free=usage.free)


def check_scratch(scratch: Scratch, *, needed: int) -> str | None:
    """None when the job fits now; a message for the user when it can never fit on this
    worker's scratch space. Raises :class:`RetryLater` when it only lacks room now (other
    jobs hold it), so another worker, or this one later, takes it."""
    if needed > scratch.total:
        return (
            f"The annotation workers' scratch space ({_gib(scratch.total)}) cannot hold this "
            f"input and its result (about {_gib(needed)} together). Split the file by "
            "chromosome and submit the parts, or ask the operators to give the annotator "
            "more scratch space (annotator.workDirSizeLimit)."
        )
    if needed > scratch.free:
        raise RetryLater(
            f"scratch space has {_gib(scratch.free)} free, the job needs {_gib(needed)}",
            delay_seconds=60,
        )
    return None


def _gib(size: int) -> str:
    return f"{size / 1024**3:,.1f} GiB"
