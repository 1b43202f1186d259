"""Compiles anntools' CSQ entry writer (src/anntools/_csq.c) into src/anntools/_csq.so.

A plain C library loaded with ctypes (anntools/native.py), so it needs only a C compiler
(``$CC``, default ``cc``) and no Python headers. For an editable install the library stays in
the source tree (git ignores it); a wheel carries it and is tagged for this platform.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("src/anntools/_csq.c")
LIBRARY = Path("src/anntools/_csq.so")


class CsqWriterHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        compiler = shlex.split(os.environ.get("CC", "cc"))
        command = [
            *compiler,
            "-O3",
            "-std=c99",
            "-Wall",
            "-Werror",
            "-shared",
            "-fPIC",
            "-o",
            str(root / LIBRARY),
            str(root / SOURCE),
        ]
        try:
            subprocess.run(command, check=True)
        except (OSError, subprocess.CalledProcessError) as error:
            raise RuntimeError(
                f"anntools needs a C compiler to build its CSQ writer ({' '.join(command)}: "
                f"{error}); install one (Debian: apt-get install gcc libc6-dev) or set CC"
            ) from error
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(root / LIBRARY)] = "anntools/_csq.so"
