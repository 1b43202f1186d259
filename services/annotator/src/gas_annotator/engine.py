"""The child process that does the CPU work: ``python -m gas_annotator.engine <command> <json>``.

anntools blocks a CPU for the whole run, so it never runs in the worker's event loop; the
worker keeps renewing its lease, extending SQS visibility and answering probes meanwhile.
The child talks back with one JSON object per stdout line:

* ``{"progress": 0.42}`` while it works (at most once per whole percent);
* ``{"summary": {...}}`` and exit 0 when the output is complete;
* ``{"input_error": "Line 7: ...", "line": 7}`` and exit :data:`EXIT_INPUT_ERROR` when the
  file is unusable (retrying cannot help);
* anything else (a traceback on stderr, a non-zero exit) is an infrastructure failure.

The child asks the kernel to kill it when its parent dies, so a SIGKILLed worker leaves no
orphan still writing.
"""

from __future__ import annotations

import ctypes
import json
import signal
import sys
from pathlib import Path
from typing import Any

EXIT_INPUT_ERROR = 3
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the broken stdout pipe ends the child at its next progress line


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def annotate(arguments: dict[str, Any]) -> int:
    from anntools import InputError, annotate_file

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
            log_path=Path(arguments["log_path"]),
            progress=progress,
        )
    except InputError as error:
        _say({"input_error": str(error), "line": error.line})
        return EXIT_INPUT_ERROR
    _say({"summary": summary})
    return 0


def bundle(arguments: dict[str, Any]) -> int:
    from anntools import ensure_bundle

    path = ensure_bundle(arguments["build"], cache_dir=arguments.get("cache_dir"))
    _say({"bundle_dir": str(path)})
    return 0


COMMANDS = {"annotate": annotate, "bundle": bundle}


def main() -> None:
    _die_with_parent()
    command, arguments = sys.argv[1], json.loads(sys.argv[2])
    sys.exit(COMMANDS[command](arguments))


if __name__ == "__main__":
    main()
