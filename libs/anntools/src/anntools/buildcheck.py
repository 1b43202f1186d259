"""Which build an input is: the header's clues, else its records tested against each build.

A header that names the build decides (``genome.detect_build_from_header``). When it says
nothing, the first records (up to ``SAMPLE_RECORDS``) are annotated against every bundle at
hand: a build whose chromosome ends they pass is out; otherwise the build whose common-SNP set
they match (same CHROM/POS/REF/ALT) far more often wins, else the build whose exons hold far
more of them (gene panels, exomes, ClinVar-like files). A build the caller forces is checked
the same way, and refused when the header or the records contradict it, unless the caller
overrides (``force_build``). NCBI36/hg18 is refused with a liftover hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from anntools.bundle import MANIFEST, Bundle, bundle_dir_for, ensure_bundle, load_bundle
from anntools.engine import ChunkAnnotator, Tally
from anntools.errors import BuildMismatchError, BundleError
from anntools.genome import BUILDS, LIFTOVER_HINT, NCBI36, BuildEvidence, detect_build_from_header
from anntools.vcf import Header, VcfReader

DEFAULT_BUILD = "GRCh37"
SAMPLE_RECORDS = 20_000
SAMPLE_CHUNKS = 8
EXON_CLASSES = ("CDS", "UTR5", "UTR3", "ncRNA_exon")


@dataclass(frozen=True)
class BuildFit:
    """How a sample of the records fits one build."""

    build: str
    variants: int
    common_snps: int
    exonic: int
    beyond: str | None  # why a position cannot be in this build, or None
    error: BuildMismatchError | None = None

    def clue(self) -> str:
        text = (
            f"{self.build}: of {self.variants} records tested, {self.common_snps} match its "
            f"common SNPs and {self.exonic} lie in its exons"
        )
        return text + (f"; {self.beyond}" if self.beyond else "")


def fit_records(input_path: str | Path, header: Header, bundles: list[Bundle]) -> list[BuildFit]:
    """Annotate the first records against each bundle and count what tells builds apart."""
    sample: list[tuple[bytes, int]] = []
    lines = 0
    with VcfReader(input_path) as reader:
        for text, first_line in reader.chunks():
            sample.append((text, first_line))
            lines += text.count(b"\n")
            if lines >= SAMPLE_RECORDS or len(sample) >= SAMPLE_CHUNKS:
                break
    fits = []
    for bundle in bundles:
        # Regions and common-SNP matches tell builds apart; consequences would only cost time.
        annotator = ChunkAnnotator(bundle, header, consequences=False)
        tally = Tally()
        beyond, refusal = None, None
        try:
            for text, first_line in sample:
                tally.add(annotator.annotate(text, first_line)[1])
        except BuildMismatchError as error:
            beyond, refusal = error.reason, error
        fits.append(
            BuildFit(
                bundle.build,
                tally.records - tally.reference_blocks,
                tally.common_snp_matches,
                sum(tally.regions.get(name, 0) for name in EXON_CLASSES),
                beyond,
                refusal,
            )
        )
    return fits


def decide(fits: list[BuildFit]) -> tuple[str | None, str]:
    """The build the records point to (None when they do not tell), and why."""
    fitting = [fit for fit in fits if fit.beyond is None]
    if fits and not fitting:
        return None, "positions lie past chromosome ends in every build tested"
    if len(fits) == 2 and len(fitting) == 1:
        other = next(fit for fit in fits if fit.beyond is not None)
        return fitting[0].build, f"positions lie past chromosome ends of {other.build}"
    if len(fitting) == 2:
        best, other = sorted(fitting, key=lambda fit: fit.common_snps, reverse=True)
        if best.common_snps >= 3 and best.common_snps >= 4 * other.common_snps:
            return best.build, (
                f"{best.common_snps} records match {best.build}'s common SNPs, "
                f"{other.common_snps} {other.build}'s"
            )
        best, other = sorted(fitting, key=lambda fit: fit.exonic, reverse=True)
        if (
            best.variants >= 20
            and best.exonic >= 0.2 * best.variants
            and best.exonic >= 2 * other.exonic
        ):
            return best.build, (
                f"{best.exonic} of {best.variants} records lie in {best.build}'s exons, "
                f"{other.exonic} in {other.build}'s"
            )
    return None, "the records do not tell the builds apart"


def resolve_build(
    input_path: str | Path,
    header: Header,
    *,
    build: str | None = None,
    bundle_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    force_build: bool = False,
) -> tuple[BuildEvidence, Bundle]:
    """The evidence for the input's build and the bundle to annotate it with; raises
    ``BuildMismatchError`` for NCBI36 and for a requested build the input contradicts."""
    evidence = detect_build_from_header(header.meta_lines)
    explicit = load_bundle(bundle_dir) if bundle_dir is not None else None
    if explicit is not None and build is not None and build != explicit.build:
        raise BundleError(
            f"--build {build} conflicts with the {explicit.build} bundle at {bundle_dir}"
        )
    requested = explicit.build if explicit is not None else build
    if evidence.build == NCBI36 and not force_build:
        raise BuildMismatchError(
            f"the input is NCBI36/hg18 ({evidence.reason}); {LIFTOVER_HINT}",
            detected_build=NCBI36,
            bundle_build=requested or DEFAULT_BUILD,
        )
    if evidence.build is not None:
        if requested is not None and requested != evidence.build and not force_build:
            raise BuildMismatchError(
                f"the input is {evidence.build} ({evidence.reason}) but the reference bundle "
                f"is {requested}; annotate it with --build {evidence.build}",
                detected_build=evidence.build,
                bundle_build=requested,
            )
        chosen = requested or evidence.build
        return evidence, explicit or load_bundle(ensure_bundle(chosen, cache_dir))

    # The header is silent: test the records against every bundle at hand.
    bundles = _bundles_at_hand(explicit, requested, cache_dir)
    fits = fit_records(input_path, header, bundles)
    detected, why = decide(fits)
    clues = (*evidence.clues, *(fit.clue() for fit in fits))
    if len(fits) == 1 and detected is None and fits[0].beyond is None:
        why = f"only {fits[0].build}'s bundle is at hand, so only its chromosome ends were tested"
    refusal = fits[0].error if fits else None
    if refusal is not None and all(fit.beyond for fit in fits) and not force_build:
        raise refusal
    if requested is not None:
        if detected is not None and detected != requested and not force_build:
            raise BuildMismatchError(
                f"the input's records say {detected} ({why}) but {requested} was asked for; "
                f"annotate it with --build {detected}, or override with --force-build",
                detected_build=detected,
                bundle_build=requested,
            )
        source = "bundle" if explicit is not None else "forced"
        reason = f"{requested} as asked; {why}"
        bundle = explicit or next(b for b in bundles if b.build == requested)
        return BuildEvidence(detected, reason, clues, source), bundle
    if detected is not None:
        bundle = next(b for b in bundles if b.build == detected)
        return BuildEvidence(detected, why, clues, "data"), bundle
    chosen = DEFAULT_BUILD
    bundle = next((b for b in bundles if b.build == chosen), None) or load_bundle(
        ensure_bundle(chosen, cache_dir)
    )
    return BuildEvidence(None, f"{why}; {chosen} assumed", clues, "default"), bundle


def _bundles_at_hand(
    explicit: Bundle | None, requested: str | None, cache_dir: str | Path | None
) -> list[Bundle]:
    """The explicit or requested bundle (built if missing) and any other build's bundle that
    already exists: beside the explicit one, or in the cache."""
    bundles: list[Bundle] = []
    if explicit is not None:
        bundles.append(explicit)
        siblings = [explicit.path.parent / bundle_dir_for(b, Path("")).name for b in BUILDS]
    else:
        primary = requested or DEFAULT_BUILD
        bundles.append(load_bundle(ensure_bundle(primary, cache_dir)))
        cache = Path(cache_dir) if cache_dir else None
        siblings = [bundle_dir_for(b, cache) for b in BUILDS]
    for path in siblings:
        if (path / MANIFEST).exists() and all(b.build not in path.name for b in bundles):
            other = load_bundle(path)
            if other.build not in {b.build for b in bundles}:
                bundles.append(other)
    return bundles


def detect_build(
    input_path: str | Path,
    *,
    build: str | None = None,
    bundle_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> BuildEvidence:
    """What annotating ``input_path`` would decide about its build, without annotating it
    (for a check before a job is queued); raises as ``annotate_file`` would."""
    with VcfReader(input_path) as reader:
        evidence, _ = resolve_build(
            input_path, reader.header, build=build, bundle_dir=bundle_dir, cache_dir=cache_dir
        )
    return evidence
