"""Genome builds: chromosome names and lengths, a genome-wide coordinate system, build detection.

Every track in a bundle lives on one axis: ``offset[chromosome] + 0-based position``. One
``searchsorted`` per track then annotates a whole chunk of variants, whatever their chromosomes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

BUILDS = ("GRCh37", "GRCh38")
PRIMARY_CHROMOSOMES = tuple([str(n) for n in range(1, 23)] + ["X", "Y", "MT"])

# Lengths of the primary assembly (NCBI GRCh37.p13 / GRCh38.p14); they identify a build from
# ##contig lines. MT is left out: it is the same rCRS sequence in both.
CHROMOSOME_LENGTHS: dict[str, dict[str, int]] = {
    "GRCh37": {
        "1": 249250621, "2": 243199373, "3": 198022430, "4": 191154276, "5": 180915260,
        "6": 171115067, "7": 159138663, "8": 146364022, "9": 141213431, "10": 135534747,
        "11": 135006516, "12": 133851895, "13": 115169878, "14": 107349540, "15": 102531392,
        "16": 90354753, "17": 81195210, "18": 78077248, "19": 59128983, "20": 63025520,
        "21": 48129895, "22": 51304566, "X": 155270560, "Y": 59373566,
    },
    "GRCh38": {
        "1": 248956422, "2": 242193529, "3": 198295559, "4": 190214555, "5": 181538259,
        "6": 170805979, "7": 159345973, "8": 145138636, "9": 138394717, "10": 133797422,
        "11": 135086622, "12": 133275309, "13": 114364328, "14": 107043718, "15": 101991189,
        "16": 90338345, "17": 83257441, "18": 80373285, "19": 58617616, "20": 64444167,
        "21": 46709983, "22": 50818468, "X": 156040895, "Y": 57227415,
    },
}  # fmt: skip
# NCBI36 (hg18), which anntools does not annotate: its lengths identify it to refuse it.
NCBI36_LENGTHS: dict[str, int] = {
    "1": 247249719, "2": 242951149, "3": 199501827, "4": 191273063, "5": 180857866,
    "6": 170899992, "7": 158821424, "8": 146274826, "9": 140273252, "10": 135374737,
    "11": 134452384, "12": 132349534, "13": 114142980, "14": 106368585, "15": 100338915,
    "16": 88827254, "17": 78774742, "18": 76117153, "19": 63811651, "20": 62435964,
    "21": 46944323, "22": 49691432, "X": 154913754, "Y": 57772954,
}  # fmt: skip
NCBI36 = "NCBI36"
LIFTOVER_HINT = (
    "anntools annotates GRCh37 and GRCh38 only: lift the file over first (e.g. CrossMap, UCSC "
    "liftOver or Picard LiftoverVcf with the hg18ToHg38 or hg18ToHg19 chain)"
)
# hg19's chrM (16571 bp) is not rCRS (16569 bp); accept positions on either.
MITOCHONDRION_LENGTH = 16571

_REFERENCE_PATTERNS = {
    NCBI36: re.compile(
        r"ncbi_?36|ncbi[ _]?build[ _]?36|build[ _]?36|\bb36\b|hg18|human_b36", re.IGNORECASE
    ),
    "GRCh37": re.compile(
        r"grch37|hg19|\bb37\b|hs37|g1k_v37|human_g1k|37d5|build[ _]?37", re.IGNORECASE
    ),
    "GRCh38": re.compile(r"grch38|hg38|\bb38\b|hs38|GCA_000001405\.15|build[ _]?38", re.IGNORECASE),
}
_ALL_LENGTHS = {NCBI36: NCBI36_LENGTHS, **CHROMOSOME_LENGTHS}


def canonical_chromosome(name: str) -> str:
    """Map VCF/UCSC chromosome spellings (``chr1``, ``1``, ``chrM``, ``MT``) to ``1``/``MT``."""
    bare = name[3:] if name[:3].lower() == "chr" else name
    if bare in ("M", "MT", "m", "mt"):
        return "MT"
    return bare.upper() if bare in ("x", "y") else bare


@dataclass(frozen=True)
class Genome:
    """The chromosomes of one build laid end to end on a single coordinate axis."""

    build: str
    names: tuple[str, ...]
    lengths: tuple[int, ...]

    @classmethod
    def for_build(cls, build: str) -> Genome:
        lengths = CHROMOSOME_LENGTHS[build]
        sizes = [lengths.get(name, MITOCHONDRION_LENGTH) for name in PRIMARY_CHROMOSOMES]
        return cls(build=build, names=PRIMARY_CHROMOSOMES, lengths=tuple(sizes))

    @property
    def offsets(self) -> NDArray[Any]:
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    @property
    def total_length(self) -> int:
        return int(sum(self.lengths))

    def index_of(self, name: str) -> int:
        """Index of a chromosome in any spelling, or -1 for contigs outside the primary set."""
        try:
            return self.names.index(canonical_chromosome(name))
        except ValueError:
            return -1


@dataclass(frozen=True)
class BuildEvidence:
    """Which build the input is, how that was decided and every clue seen.

    ``source``: "header", "data" (the records tested against each build), "forced" (the
    caller's build, not contradicted), "bundle" (an explicit bundle, not contradicted) or
    "default" (nothing decided; GRCh37 assumed)."""

    build: str | None
    reason: str
    clues: tuple[str, ...] = ()
    source: str = "header"

    def as_dict(self) -> dict[str, object]:
        return {
            "detected": self.build,
            "reason": self.reason,
            "source": self.source,
            "evidence": list(self.clues),
        }


def detect_build_from_header(header_lines: list[str]) -> BuildEvidence:
    """Infer the build from ``##contig`` lengths and ``assembly=``, and from any ``##`` line
    whose key names a reference or assembly (``##reference``, ``##assembly``,
    ``##source_GENOME_REFERENCE``...), whose text may say GRCh37/hg19/b37/build37,
    GRCh38/hg38/build38 or NCBI36/hg18/b36.

    Contig lengths are decisive (they differ between builds for every primary chromosome);
    the reference names are used when no length settles it. ``build`` is "NCBI36" for a
    file of that build, which the caller refuses.
    """
    names = (NCBI36, *BUILDS)
    votes: dict[str, list[str]] = {build: [] for build in names}
    text_votes: dict[str, list[str]] = {build: [] for build in names}
    for line in header_lines:
        if line.startswith("##contig=<"):
            fields = _parse_structured(line[len("##contig=<") :].rstrip(">"))
            chromosome = canonical_chromosome(fields.get("ID", ""))
            length_text = fields.get("length", "")
            if length_text.isdigit():
                length = int(length_text)
                for build in names:
                    if _ALL_LENGTHS[build].get(chromosome) == length:
                        votes[build].append(f"##contig {fields.get('ID')} length {length}")
            assembly = fields.get("assembly", "")
            for build, pattern in _REFERENCE_PATTERNS.items():
                if assembly and pattern.search(assembly):
                    text_votes[build].append(f"##contig assembly={assembly}")
            continue
        key, _, value = line[2:].partition("=")
        if "reference" in key.lower() or "assembly" in key.lower():
            for build, pattern in _REFERENCE_PATTERNS.items():
                if pattern.search(value):
                    text_votes[build].append(f"##{key}={value}")
    clues = tuple(
        dict.fromkeys(clue for votes_ in (votes, text_votes) for b in names for clue in votes_[b])
    )
    for evidence in (votes, text_votes):
        supported = [build for build in names if evidence[build]]
        if len(supported) == 1:
            build = supported[0]
            return BuildEvidence(build, evidence[build][0], clues)
        if len(supported) > 1:
            ranked = sorted(supported, key=lambda b: len(evidence[b]), reverse=True)
            if len(evidence[ranked[0]]) > len(evidence[ranked[1]]):
                return BuildEvidence(ranked[0], evidence[ranked[0]][0], clues)
    return BuildEvidence(
        None, "no ##contig lengths or reference names identify the build", clues, "default"
    )


def build_fitting_position(chromosome: str, position: int) -> str | None:
    """The build (NCBI36 included) whose chromosome is long enough for ``position``, if
    exactly one is."""
    fitting = [
        build
        for build in (NCBI36, *BUILDS)
        if position <= _ALL_LENGTHS[build].get(chromosome, MITOCHONDRION_LENGTH)
    ]
    return fitting[0] if len(fitting) == 1 else None


def _parse_structured(body: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for match in re.finditer(r'(\w+)=("[^"]*"|[^,]*)', body):
        fields[match.group(1)] = match.group(2).strip('"')
    return fields


def reference_patterns() -> dict[str, str]:
    """The case-insensitive regular expressions that name each build (NCBI36 included) in
    header text, for checks outside Python (the web app's pre-upload check)."""
    return {build: pattern.pattern for build, pattern in _REFERENCE_PATTERNS.items()}
