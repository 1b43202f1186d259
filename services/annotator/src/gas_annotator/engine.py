"""The child process that does the CPU work: ``python -m gas_annotator.engine <command> ...``.

anntools blocks a CPU for the whole run, so it never runs in the worker's event loop; the
worker keeps renewing its lease, extending SQS visibility and answering probes meanwhile.

``serve`` keeps one child alive across jobs (anntools' first call in a process pays for
loading the bundle; later calls do not): it reads one JSON request per stdin line and
answers with one JSON object per stdout line:

* ``{"progress": 0.42}`` while it works (at most once per whole percent);
* ``{"summary": {...}, "columnar_error": null}`` when the output is complete; the request's
  ``columnar_path``, when given, then holds the result's columnar copy for the results viewer
  (``anntools.columnar``), unless ``columnar_error`` says why it could not be written (the
  job still completes: the jobs service rebuilds the copy from the VCF);
* ``{"input_error": "Line 7: ..."}`` when the file is unusable (retrying cannot help);
* ``{"too_large": true}`` when the file holds more than the request's ``max_text_bytes`` of
  VCF text once decompressed (counted before annotating, stopping at the limit);
* on any other error it prints the traceback to stderr and exits: an infrastructure failure.

The child asks the kernel to kill it when its parent dies, so a SIGKILLed worker leaves no
orphan still writing. (Reference bundles are built by the bundle builder, see
:mod:`gas_annotator.bundles`.)
"""

from __future__ import annotations

import ctypes
import json
import signal
import sys
from pathlib import Path
from typing import Any

from isal import isal_zlib

from anntools.vcf import INFLATE_ERROR

_PR_SET_PDEATHSIG = 1
_READ_BYTES = 1 << 20


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the broken stdout pipe ends the child at its next progress line


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def text_bytes_exceed(path: Path, limit: int) -> bool:
    """Does ``path`` hold more than ``limit`` bytes of text once decompressed? Reads no
    further than the limit (zlib's ``max_length``), so a gzip bomb costs at most ``limit``
    bytes of inflating (with ISA-L, ~2.5x zlib's speed, as anntools reads); a broken gzip
    stream is left for anntools to report with its line."""
    with path.open("rb") as raw:
        if raw.read(2) != b"\x1f\x8b":
            return path.stat().st_size > limit
        raw.seek(0)
        total = 0
        decompressor = isal_zlib.decompressobj(31)
        try:
            while compressed := raw.read(_READ_BYTES):
                data = compressed
                while data:
                    total += len(decompressor.decompress(data, _READ_BYTES))
                    if total > limit:
                        return True
                    if decompressor.eof:  # the next gzip member (BGZF is many)
                        data = decompressor.unused_data
                        decompressor = isal_zlib.decompressobj(31)
                    else:
                        data = decompressor.unconsumed_tail
        except INFLATE_ERROR:
            return False
        return total + len(decompressor.flush()) > limit


def annotate(arguments: dict[str, Any]) -> None:
    from anntools import InputError, annotate_file

    limit = arguments.get("max_text_bytes")
    if limit is not None and text_bytes_exceed(Path(arguments["input_path"]), int(limit)):
        _say({"too_large": True})
        return

    reported = -1

    def progress(fraction: float) -> None:
        nonlocal reported
        percent = int(fraction * 100)
        if percent != reported:
            reported = percent
            _say({"progress": round(fraction, 4)})

    try:
        summary = annotate_file(
            Path(arguments["input_path"]),
            Path(arguments["output_path"]),
            build=arguments.get("build"),
            bundle_dir=arguments.get("bundle_dir"),
            force_build=bool(arguments.get("force_build")),
            log_path=Path(arguments["log_path"]),
            progress=progress,
        )
    except InputError as error:
        _say({"input_error": str(error)})
        return
    _say(
        {
            "summary": summary,
            "columnar_error": columnar(arguments["output_path"], arguments.get("columnar_path")),
        }
    )


def columnar(annotated: str, target: str | None) -> str | None:
    """Write the columnar copy of the ``annotated`` VCF to ``target``; the reason on failure."""
    if not target:
        return None
    from anntools.columnar import write_columnar

    try:
        write_columnar(Path(annotated), Path(target))
    except Exception as error:  # any failure here must not fail the job
        return f"{type(error).__name__}: {error}"
    return None


def serve(_: list[str]) -> int:
    import anntools  # noqa: F401 - its import takes a second or two: pay it before the first job

    for line in sys.stdin:
        if line.strip():
            annotate(json.loads(line))
    return 0


COMMANDS = {"serve": serve}


def main() -> None:
    _die_with_parent()
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))


if __name__ == "__main__":
    main()
