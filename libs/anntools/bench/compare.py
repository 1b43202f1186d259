"""Benchmark: anntools annotate vs a three-stage bcftools annotate on the same tracks.

Generates a GRCh37 workload from real SNP positions (the bundle's dbSNP common set, each
position used as is and shifted by a few bases, with random alleles), then runs, in this
process's lifetime and on this machine:

  bcftools annotate genes | bcftools annotate cytoband | bcftools annotate known variants (ID)
  anntools annotate (the same tracks plus REGION/EXON/STRAND/HGNC_NAME, regulatory tracks and
                    CSQ/MOST_SEVERE_CSQ consequences, GAS jobs' default)
  anntools annotate --no-consequences (closest to the peer's work)

and prints wall time, variants/second, peak RSS and the time ratio of each anntools run to the
peer, then what the peer leaves out (fields and output size); then anntools alone on a 10x
larger workload for the memory figure.

Usage: python bench/compare.py [--variants 1000000] [--big 10000000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from anntools.bundle import ensure_bundle, export_tracks, load_bundle

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
TIME = "/usr/bin/time"


def make_workload(bundle_dir: Path, count: int, path: Path, seed: int = 7) -> None:
    """A sorted, bgzipped, sample-free VCF of ``count`` SNVs at or near real SNP positions."""
    bundle = load_bundle(bundle_dir)
    known = next(track for track in bundle.known_tracks if track.set_id)
    rng = np.random.default_rng(seed)
    genome = bundle.genome
    base_positions = np.asarray(known.positions)
    shifts = np.array([0, 7, -13, 29, -41, 101, -211, 503, -1009, 2003], dtype=np.int64)
    repeats = -(-count // len(base_positions))
    positions = np.concatenate([base_positions + shifts[i % len(shifts)] for i in range(repeats)])[
        :count
    ]
    chromosome = np.searchsorted(genome.offsets, positions, side="right") - 1
    local = positions - genome.offsets[chromosome]
    lengths = np.asarray(genome.lengths)[chromosome]
    keep = (local >= 0) & (local < lengths)
    positions = np.sort(positions[keep])
    chromosome = np.searchsorted(genome.offsets, positions, side="right") - 1
    local = positions - genome.offsets[chromosome] + 1
    alleles = {i: known.alleles[i].as_py().split("\t") for i in range(len(known.alleles))}
    index_of = {int(p): i for i, p in enumerate(base_positions.tolist())}
    refs = rng.integers(0, 4, len(positions))
    alts = (refs + rng.integers(1, 4, len(positions))) % 4
    with open(path.with_suffix(""), "w") as handle:
        handle.write("##fileformat=VCFv4.2\n")
        handle.write("##reference=GRCh37\n")
        handle.write('##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n')
        for name, length in zip(genome.names, genome.lengths, strict=True):
            handle.write(f"##contig=<ID={name},length={length}>\n")
        handle.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        lines = []
        for global_position, name_index, position, ref, alt in zip(
            positions.tolist(),
            chromosome.tolist(),
            local.tolist(),
            refs.tolist(),
            alts.tolist(),
            strict=True,
        ):
            pair = alleles.get(index_of.get(global_position, -1))
            ref_base, alt_base = pair if pair else (chr(BASES[ref]), chr(BASES[alt]))
            lines.append(
                f"{genome.names[name_index]}\t{position}\t.\t{ref_base}\t{alt_base}"
                f"\t50\tPASS\tDP={position % 97}\n"
            )
            if len(lines) >= 100_000:
                handle.write("".join(lines))
                lines.clear()
        handle.write("".join(lines))
    subprocess.run(["bgzip", "-f", "-@2", str(path.with_suffix(""))], check=True)


def replicate(path: Path, copies: int, out: Path) -> None:
    """A workload ``copies`` times as long (the body repeated; fine for a memory figure)."""
    with subprocess.Popen(["bgzip", "-dc", str(path)], stdout=subprocess.PIPE) as source:
        text = source.stdout.read() if source.stdout else b""
    cut = text.index(b"#CHROM")
    cut = text.index(b"\n", cut) + 1
    with subprocess.Popen(
        ["bgzip", "-@2", "-c"], stdin=subprocess.PIPE, stdout=open(out, "wb")
    ) as sink:
        assert sink.stdin
        sink.stdin.write(text[:cut])
        for _ in range(copies):
            sink.stdin.write(text[cut:])
        sink.stdin.close()


def prepare_peer_tracks(bundle_dir: Path, workdir: Path) -> dict[str, Path]:
    exported = workdir / "tracks"
    export_tracks(bundle_dir, exported)
    files = {}
    for name in ("gene_model", "cytoband"):
        bed = exported / f"{name}.bed"
        subprocess.run(["bgzip", "-f", str(bed)], check=True)
        subprocess.run(["tabix", "-f", "-p", "bed", f"{bed}.gz"], check=True)
        files[name] = Path(f"{bed}.gz")
    # Known variants as a tabix-indexed table: bcftools streams it (a VCF -a file would need
    # an index on the piped input too).
    known = exported / "dbsnp_common.tab"
    with open(known, "w") as handle:
        for line in (exported / "dbsnp_common.vcf").read_text().splitlines():
            if not line.startswith("#"):
                chrom, pos, rsid, ref, alt = line.split("\t")[:5]
                handle.write(f"{chrom}\t{pos}\t{ref}\t{alt}\t{rsid}\n")
    subprocess.run(["bgzip", "-f", str(known)], check=True)
    subprocess.run(["tabix", "-f", "-s1", "-b2", "-e2", f"{known}.gz"], check=True)
    files["known"] = Path(f"{known}.gz")
    header = workdir / "peer.hdr"
    header.write_text(
        '##INFO=<ID=GENE,Number=.,Type=String,Description="Genes">\n'
        '##INFO=<ID=CYTOBAND,Number=.,Type=String,Description="Cytoband">\n'
    )
    files["header"] = header
    return files


def timed(command: str, output: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (all processes) and the peak RSS (MiB) of the largest process
    in ``command``, which writes ``output``: the previous run's is deleted first, so neither
    tool's time includes freeing the last output's pages."""
    output.unlink(missing_ok=True)
    report = tempfile.NamedTemporaryFile(suffix=".time", delete=False)  # noqa: SIM115
    report.close()
    started = time.monotonic()
    # Python may keep the bytecode it compiles (as an installed package's is), so every run
    # after the first measures the annotation, not compiling the sources again.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [TIME, "-f", "%M %U %S", "-o", report.name, "bash", "-o", "pipefail", "-c", command],
        check=True,
        env=env,
    )
    wall = time.monotonic() - started
    peak_kib, user, system = Path(report.name).read_text().split()[-3:]
    os.unlink(report.name)
    return wall, float(user) + float(system), int(peak_kib) / 1024


def bcftools_command(workload: Path, tracks: dict[str, Path], out: Path) -> str:
    return (
        f"bcftools annotate --no-version -a {tracks['gene_model']} -c CHROM,FROM,TO,GENE "
        f"-h {tracks['header']} -l GENE:unique -Ob0 {workload} | "
        f"bcftools annotate --no-version -a {tracks['cytoband']} -c CHROM,FROM,TO,CYTOBAND -Ob0 - | "
        f"bcftools annotate --no-version -a {tracks['known']} -c CHROM,POS,REF,ALT,ID -Ov "
        f"-o {out} -"
    )


def peer_gap(peer: Path, ours: Path, lean: Path) -> str:
    """What the peer's output lacks: the fields only anntools writes, and the output sizes."""
    entries = 0
    with open(ours, "rb") as handle:
        for line in handle:
            if not line.startswith(b"#"):
                start = line.find(b"CSQ=")
                if start >= 0:
                    end = line.find(b";", start)
                    entries += line.count(b",", start, end if end >= 0 else len(line)) + 1
    mib = 1024 * 1024
    return (
        "the peer does not compute: CSQ (one VEP-layout entry per allele and transcript within "
        f"5 kb: {entries} entries here), MOST_SEVERE_CSQ, REGION/EXON/STRAND/HGNC_NAME, the "
        "regulatory tracks, the summary; output "
        f"bcftools {peer.stat().st_size / mib:.0f} MiB, anntools {ours.stat().st_size / mib:.0f} "
        f"MiB ({lean.stat().st_size / mib:.0f} MiB without consequences)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument(
        "--big", type=int, default=10_000_000, help="variants for the memory run (0 to skip)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (best is kept)")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--bundle", type=Path)
    args = parser.parse_args()
    for tool in ("bcftools", "bgzip", "tabix"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install -y bcftools tabix", file=sys.stderr)
            return 1
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="anntools-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bundle_dir = args.bundle or ensure_bundle("GRCh37")
    workload = workdir / f"workload-{args.variants}.vcf.gz"
    if not workload.exists():
        make_workload(bundle_dir, args.variants, workload)
    tracks = prepare_peer_tracks(bundle_dir, workdir)
    anntools = shutil.which("anntools") or f"{sys.executable} -m anntools.cli"

    # Alternate the two tools and keep each one's best run: the machine may be shared.
    peer_runs, our_runs, lean_runs = [], [], []
    ours_out, lean_out = workdir / "anntools.vcf", workdir / "anntools-no-csq.vcf"
    for _ in range(args.repeat):
        peer_out = workdir / "bcftools.vcf"
        peer_runs.append(timed(bcftools_command(workload, tracks, peer_out), peer_out))
        our_runs.append(
            timed(
                f"{anntools} annotate --quiet --bundle {bundle_dir} {workload} -o {ours_out}",
                ours_out,
            )
        )
        lean_runs.append(
            timed(
                f"{anntools} annotate --quiet --no-consequences --bundle {bundle_dir} "
                f"{workload} -o {lean_out}",
                lean_out,
            )
        )
    peer_wall, peer_cpu, peer_rss = min(peer_runs)
    count = args.variants
    print(f"workload: {count} variants ({workload})")
    print(f"{'tool':<34}{'wall s':>9}{'CPU s':>8}{'variants/s':>13}{'peak RSS MiB':>14}")
    print(
        f"{'bcftools annotate (3 stages)':<34}{peer_wall:>9.2f}{peer_cpu:>8.2f}"
        f"{count / peer_wall:>13.0f}{peer_rss:>14.0f}"
    )
    for label, runs in (
        ("anntools annotate", our_runs),
        ("anntools --no-consequences", lean_runs),
    ):
        wall, cpu, rss = min(runs)
        print(f"{label:<34}{wall:>9.2f}{cpu:>8.2f}{count / wall:>13.0f}{rss:>14.0f}")
    for label, runs in (("with consequences", our_runs), ("--no-consequences", lean_runs)):
        print(
            f"time ratio anntools/bcftools, {label}: {min(runs)[0] / peer_wall:.2f} "
            f"(best of {args.repeat}; all runs: bcftools "
            f"{[round(run[0], 2) for run in peer_runs]}, anntools {[round(run[0], 2) for run in runs]})"
        )
    print(peer_gap(workdir / "bcftools.vcf", ours_out, lean_out))
    if args.big:
        big = workdir / f"workload-{args.big}.vcf.gz"
        if not big.exists():
            replicate(workload, -(-args.big // count), big)
        big_out = workdir / "big.vcf.gz"
        big_wall, big_cpu, big_rss = timed(
            f"{anntools} annotate --quiet --bundle {bundle_dir} {big} -o {big_out}", big_out
        )
        big_count = count * -(-args.big // count)
        print(
            f"{'anntools annotate, ' + str(big_count):<34}{big_wall:>9.2f}{big_cpu:>8.2f}"
            f"{big_count / big_wall:>13.0f}{big_rss:>14.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
