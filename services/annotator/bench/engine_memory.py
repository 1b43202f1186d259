"""Peak memory (VmHWM) of the annotator's engine child on hostile and large inputs.

Each input runs in a fresh ``python -m gas_annotator.engine serve`` child, as the worker
runs it (with the worker's decompressed-size cap), and the child's peak resident set is read
from /proc before it exits. Usage (inputs are generated in a temp folder, a few MB of disk):

    uv run --no-sync python services/annotator/bench/engine_memory.py [--cap-bytes N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

HEADER = (
    b"##fileformat=VCFv4.2\n##reference=GRCh37\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)
MiB = 1024**2


def gzipped(path: Path, parts: Callable[[], Iterator[bytes]]) -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        for part in parts():
            out.write(compressor.compress(part))
        out.write(compressor.flush())


def one_long_line(path: Path) -> None:
    def parts() -> Iterator[bytes]:
        yield HEADER + b"1\t100\t.\tA\tG\t50\tPASS\t"
        for _ in range(140):
            yield b"X" * MiB

    gzipped(path, parts)


def long_lines_under_the_cap(path: Path) -> None:
    """Twenty records whose INFO is 9.5 MiB each: the longest lines the reader accepts."""

    def parts() -> Iterator[bytes]:
        yield HEADER
        for n in range(20):
            yield b"1\t%d\t.\tA\tG\t50\tPASS\tNOTE=" % (100_000 + n) + b"x" * int(9.5 * MiB) + b"\n"

    gzipped(path, parts)


def gzip_bomb(path: Path) -> None:
    """2 GiB of text in ~2 MB: a header, then one record line repeated."""

    def parts() -> Iterator[bytes]:
        yield HEADER
        line = b"1\t69511\t.\tA\tG\t50\tPASS\t.\n"
        block = line * (MiB // len(line))
        for _ in range(2048):
            yield block

    gzipped(path, parts)


def million_variants(path: Path) -> None:
    def parts() -> Iterator[bytes]:
        yield HEADER
        for start in range(0, 1_000_000, 10_000):
            yield b"".join(
                b"1\t%d\t.\tA\tG\t50\tPASS\t.\n" % (1_000_000 + 100 * n)
                for n in range(start, start + 10_000)
            )

    gzipped(path, parts)


FREE_CAP = 150 * 1024
# name: (make the input, the free cap instead of --cap-bytes)
INPUTS: dict[str, tuple[Callable[[Path], None], bool]] = {
    "one 140 MB line (140 KiB gzip)": (one_long_line, False),
    "20 lines of 9.5 MiB (just under the line cap)": (long_lines_under_the_cap, False),
    "gzip bomb, 2 GiB of records, free cap": (gzip_bomb, True),
    "1M ordinary variants (baseline)": (million_variants, False),
}


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def run(input_path: Path, folder: Path, cap: int) -> tuple[str, float, int]:
    child = subprocess.Popen(
        [sys.executable, "-m", "gas_annotator.engine", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=os.environ,
    )
    assert child.stdin and child.stdout
    request = {
        "input_path": str(input_path),
        "output_path": str(folder / "out.vcf.gz"),
        "log_path": str(folder / "run.log"),
        "build": "GRCh37",
        "bundle_dir": None,
        "max_text_bytes": cap,
    }
    started = time.monotonic()
    child.stdin.write(json.dumps(request).encode() + b"\n")
    child.stdin.flush()
    while True:
        message = json.loads(child.stdout.readline())
        if "progress" not in message:
            break
    seconds = time.monotonic() - started
    peak = peak_rss(child.pid)
    child.stdin.close()
    child.wait()
    outcome = (
        "too large"
        if "too_large" in message
        else message.get("input_error") or f"{message['summary']['variants']} variants"
    )
    return str(outcome)[:70], seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cap-bytes", type=int, default=50 * 1024**3, help="premium default")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gas-engine-memory-") as tmp:
        folder = Path(tmp)
        print(f"{'input':48} {'size':>9} {'seconds':>8} {'peak RSS':>9}  outcome")
        for name, (make, free) in INPUTS.items():
            path = folder / "input.vcf.gz"
            make(path)
            cap = FREE_CAP if free else arguments.cap_bytes
            outcome, seconds, peak = run(path, folder, cap)
            size = path.stat().st_size
            print(f"{name:48} {size / MiB:7.1f}MB {seconds:8.2f} {peak / MiB:7.0f}MB  {outcome}")


if __name__ == "__main__":
    main()
