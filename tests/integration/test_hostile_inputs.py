"""Hostile and odd inputs, and load from one user, through the real path: the jobs service's
submit and annotator workers as processes on the moto server, with the real engine.

Each test prints its figures (run with ``-s`` to see them); the only timed assertions are
generous sanity bounds, the figures themselves are reported, not asserted."""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from gas_core.auth import InternalIdentity, mint_internal_token
from gas_core.tiers import Tier
from gas_testing.plugin import ServiceProcess, Stack, StartService, get_job

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CORPUS = Path(__file__).parents[2] / "libs" / "anntools" / "tests" / "data"
HEADER = "##fileformat=VCFv4.2\n##reference=GRCh37\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"

# What a user sees for each file of the malformed-input corpus, whatever their tier:
# ("COMPLETED", variants), ("FAILED", words of the job's error) from the annotator, or
# ("REFUSED", words of submit's 422, which is also the job's error).
OUTCOMES: dict[str, tuple[str, Any]] = {
    "aligned_reads.bam": ("REFUSED", "it is a BAM file"),
    "bcf_binary.bcf": ("REFUSED", "it is a BCF file"),
    "bgzipped.vcf.gz": ("COMPLETED", 3),
    "binary_garbage.vcf": ("REFUSED", "not text"),
    "breakends.vcf": ("COMPLETED", 3),
    "chr_prefixed.vcf": ("COMPLETED", 3),
    "concatenated_gzip_members.vcf.gz": ("COMPLETED", 3),
    "contig_not_in_header.vcf": ("COMPLETED", 4),
    "crlf.vcf": ("COMPLETED", 2),
    "duplicate_header_lines.vcf": ("COMPLETED", 1),
    "empty.vcf": ("REFUSED", "empty (0 bytes)"),
    "empty_ref_alt.vcf": ("FAILED", "Line 4: the ALT column is empty"),
    "grch37_header.vcf": ("COMPLETED", 1),
    "gvcf_blocks.vcf": ("COMPLETED", 1),  # two reference blocks pass through, one variant
    "header_only.vcf": ("FAILED", "no variant records"),
    "huge_qual.vcf": ("COMPLETED", 3),
    "iupac_codes.vcf": ("COMPLETED", 3),
    "lowercase_bases.vcf": ("COMPLETED", 2),
    "many_samples.vcf": ("COMPLETED", 3),
    "missing_chrom_header.vcf": ("FAILED", "Line 2: found a data line before the '#CHROM'"),
    "mitochondrial_and_unplaced.vcf": ("COMPLETED", 3),
    "multiallelic.vcf": ("COMPLETED", 3),
    "negative_pos.vcf": ("FAILED", "Line 4: POS '-5' is not a positive integer"),
    "no_fileformat_line.vcf": ("FAILED", "Line 1: expected '##fileformat=VCFv4.x'"),
    "no_final_newline.vcf": ("COMPLETED", 2),
    "no_samples.vcf": ("COMPLETED", 3),
    "non_numeric_pos.vcf": ("FAILED", "Line 5: POS '10x3' is not a positive integer"),
    "not_a_vcf.tsv": ("REFUSED", "line 1 should be the header"),
    "plain_gzip_not_bgzf.vcf.gz": ("COMPLETED", 3),
    "pos_zero.vcf": ("FAILED", "Line 5: POS '0' is not a positive integer"),
    "reannotated.vcf": ("COMPLETED", 4),
    "samples_without_format.vcf": ("FAILED", "Line 2: the '#CHROM' header line must list"),
    "semicolon_ids.vcf": ("COMPLETED", 2),
    "space_separated.vcf": ("FAILED", "Line 3: expected 8 or more tab-separated columns"),
    "spaces_in_sample_names.vcf": ("COMPLETED", 1),
    "spanning_deletion.vcf": ("COMPLETED", 2),
    "symbolic_alleles.vcf": ("COMPLETED", 3),
    "too_few_columns.vcf": ("FAILED", "Line 4: expected 8 or more tab-separated columns"),
    "trailing_tab.vcf": ("COMPLETED", 4),
    "truncated.vcf.gz": ("FAILED", "the file is truncated"),
    "truncated_bgzf_block.vcf.gz": ("FAILED", "Line 1: the gzip stream ends early"),
    "undeclared_annotations.vcf": ("COMPLETED", 5),
    "unsorted.vcf": ("COMPLETED", 4),
    "utf16.vcf": ("REFUSED", "UTF-16"),
    "utf8_bom.vcf": ("COMPLETED", 2),
    "vcf40_header.vcf": ("COMPLETED", 2),
    "vcf41_header.vcf": ("COMPLETED", 2),
    "vcf43_header.vcf": ("COMPLETED", 1),
    "windows1252_info.vcf": ("COMPLETED", 2),
    # No header clue; X:155500000 lies past GRCh37's chrX, so the data says GRCh38.
    "wrong_build_beyond_chromosome_end.vcf": ("COMPLETED", 2),
    # No build was asked for: the GRCh38 files are detected and annotated as GRCh38.
    "wrong_build_grch38_contigs.vcf": ("COMPLETED", 1),
    "wrong_build_grch38_reference.vcf": ("COMPLETED", 1),
    "zipped.vcf.zip": ("REFUSED", "it is a zip archive"),
}
# Over the free limit once decompressed (and cut short): refused at submit for free users.
FREE_OUTCOMES = {"truncated.vcf.gz": ("TOO_LARGE", "of VCF text once decompressed")}


class Client:
    """What the gateway does on a user's behalf: mint the internal token, call the job API."""

    def __init__(self, jobs: ServiceProcess, stack: Stack, user: str, tier: Tier) -> None:
        self._url = jobs.url
        self._secret = stack.settings.internal_jwt_secret
        self.identity = InternalIdentity(user_id=user, tier=tier)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = mint_internal_token(self.identity, self._secret)
        return httpx.request(
            method,
            f"{self._url}{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            **kwargs,
        )

    def upload(self, content: bytes, filename: str) -> str:
        created = self.request(
            "POST", "/jobs", json={"filename": filename, "size_bytes": max(1, len(content))}
        )
        assert created.status_code == 201, created.text
        form = created.json()["upload"]
        posted = httpx.post(
            form["url"], data=form["fields"], files={"file": (filename, content)}, timeout=60
        )
        assert posted.status_code in (200, 204), posted.text
        return str(created.json()["job"]["id"])

    def submit(self, content: bytes, filename: str = "sample.vcf") -> str:
        job_id = self.upload(content, filename)
        submitted = self.request("POST", f"/jobs/{job_id}/submit")
        assert submitted.status_code == 200, submitted.text
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_for(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] in ("COMPLETED", "FAILED"):
                return job
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} never finished; last seen {job}")


@pytest.fixture(scope="session")
def bundle_cache() -> Path:
    from anntools import ensure_bundle

    return ensure_bundle("GRCh37").parent


@pytest.fixture(scope="session")
def known_snps() -> list[str]:
    """Record lines of the GRCh37 bundle's dbSNP common SNPs, in genome order."""
    from anntools import ensure_bundle, load_bundle

    bundle = load_bundle(ensure_bundle("GRCh37"))
    known = next(track for track in bundle.known_tracks if track.set_id)
    rows = np.flatnonzero(known.id_valid)
    positions = np.asarray(known.positions, dtype=np.int64)[rows]
    chromosomes = np.searchsorted(bundle.genome.offsets, positions, side="right") - 1
    starts = positions - bundle.genome.offsets[chromosomes]
    alleles = known.alleles.take(rows).to_pylist()
    names = [bundle.genome.names[index].removeprefix("chr") for index in chromosomes.tolist()]
    return [
        f"{name}\t{start + 1}\t.\t{pair}\t50\tPASS\t.\n"
        for name, start, pair in zip(names, starts.tolist(), alleles, strict=True)
    ]


def vcf(snps: list[str], count: int) -> bytes:
    return (HEADER + "".join(snps[:count])).encode()


@pytest.fixture
def start_annotator(
    stack: Stack, start_service: StartService, bundle_cache: Path
) -> Callable[..., ServiceProcess]:
    def start(**env: str) -> ServiceProcess:
        settings = {
            "GAS_ANNOTATOR_BUNDLE_CACHE_DIR": str(bundle_cache),
            "GAS_ANNOTATOR_BUNDLE_BUILDS": '["GRCh37"]',
            "GAS_ANNOTATOR_JOBS_PER_PROCESS": "2",
            "GAS_ANNOTATOR_RECEIVE_WAIT_SECONDS": "1",
            "GAS_ANNOTATOR_USER_SHARE_WAIT_SECONDS": "2",
            **env,
        }
        return start_service("annotator", stack, **settings)

    return start


def test_every_file_of_the_malformed_input_corpus_ends_with_what_the_user_needs_to_know(
    stack: Stack, start_service: StartService, start_annotator: Callable[..., ServiceProcess]
) -> None:
    corpus = sorted(path.name for path in CORPUS.iterdir() if path.is_file())
    assert corpus == sorted(OUTCOMES), "every corpus file has its expected outcome here"
    assert len(corpus) >= 40
    jobs = start_service("jobs", stack)
    start_annotator()
    started = time.monotonic()
    running: list[tuple[Client, str, str, tuple[str, Any]]] = []
    for tier in Tier:
        client = Client(jobs, stack, f"corpus-{tier.value}", tier)
        for name in corpus:
            expected = (FREE_OUTCOMES if tier is Tier.FREE else {}).get(name, OUTCOMES[name])
            job_id = client.upload((CORPUS / name).read_bytes(), name)
            answer = client.request("POST", f"/jobs/{job_id}/submit")
            what = f"{name} ({tier.value})"
            if expected[0] in ("REFUSED", "TOO_LARGE"):
                assert answer.status_code == (422 if expected[0] == "REFUSED" else 413), (
                    what,
                    answer.text,
                )
                assert expected[1] in answer.json()["detail"], (what, answer.text)
                assert client.job(job_id)["status"] == "FAILED", what
                continue
            assert answer.status_code == 200, (what, answer.text)
            running.append((client, job_id, what, expected))
    for client, job_id, what, (status, detail) in running:
        job = client.wait_for(job_id)
        assert job["status"] == status, (what, job)
        if status == "COMPLETED":
            assert job["summary"]["variants"] == detail, (what, job["summary"])
            grch38 = "grch38" in what or "beyond_chromosome_end" in what
            expected_build = "GRCh38" if grch38 else "GRCh37"
            assert job["provenance"]["build"] == expected_build, what
            assert client.request("GET", f"/jobs/{job_id}/result").status_code == 200, what
        else:
            assert detail in job["error"], (what, job["error"])
            assert detail in client.request("GET", f"/jobs/{job_id}/log").text, what
    print(
        f"\ncorpus: {len(corpus)} files x 2 tiers, {len(running)} annotated runs, all "
        f"terminal in {time.monotonic() - started:.1f} s"
    )


def one_long_line_gzip(megabytes: int) -> bytes:
    """A small gzip whose body is one line of ``megabytes`` MB with no newline."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(HEADER.encode() + b"1\t100\t.\tA\tG\t50\tPASS\t")]
    parts += [compressor.compress(b"X" * 1024**2) for _ in range(megabytes)]
    return b"".join(parts) + compressor.flush()


def test_a_one_long_line_gzip_fails_fast_and_does_not_hold_up_another_user(
    stack: Stack,
    start_service: StartService,
    start_annotator: Callable[..., ServiceProcess],
    known_snps: list[str],
) -> None:
    hostile = one_long_line_gzip(140)
    jobs = start_service("jobs", stack)
    start_annotator()

    free = Client(jobs, stack, "mallory-free", Tier.FREE)
    job_id = free.upload(hostile, "long.vcf.gz")
    asked = time.monotonic()
    refused = free.request("POST", f"/jobs/{job_id}/submit")
    free_seconds = time.monotonic() - asked
    assert refused.status_code == 413, refused.text
    assert "of VCF text once decompressed" in refused.json()["detail"]
    assert free.job(job_id)["status"] == "FAILED"

    premium = Client(jobs, stack, "mallory-premium", Tier.PREMIUM)
    bob = Client(jobs, stack, "bob", Tier.FREE)
    small = vcf(known_snps, 400)[:10_240]
    small = small[: small.rfind(b"\n") + 1]  # 10 KB of whole records
    hostile_id = premium.submit(hostile, "long.vcf.gz")
    submitted = time.monotonic()
    small_id = bob.submit(small)
    small_done = bob.wait_for(small_id)
    small_seconds = time.monotonic() - submitted
    failed = premium.wait_for(hostile_id)
    hostile_seconds = time.monotonic() - submitted
    assert small_done["status"] == "COMPLETED", small_done
    assert failed["status"] == "FAILED", failed
    assert "Line 4: the line is longer than 10 MiB" in failed["error"], failed["error"]
    print(
        f"\nlong line ({len(hostile) / 1024:.0f} KiB gzip, 140 MB line): free refused at "
        f"submit in {free_seconds:.2f} s; premium FAILED {hostile_seconds:.2f} s after "
        f"submit; another user's 10 KB job submitted meanwhile COMPLETED in "
        f"{small_seconds:.2f} s"
    )
    assert hostile_seconds < 30 and small_seconds < 30  # sanity only; the figures are printed


def test_one_users_burst_leaves_a_slot_for_another_users_small_job(
    stack: Stack,
    start_service: StartService,
    start_annotator: Callable[..., ServiceProcess],
    known_snps: list[str],
) -> None:
    jobs = start_service("jobs", stack)
    start_annotator()
    ann = Client(jobs, stack, "ann", Tier.PREMIUM)
    large = gzip.compress(vcf(known_snps, 150_000), compresslevel=1)
    burst = [ann.submit(large, f"large-{n}.vcf.gz") for n in range(20)]

    bob = Client(jobs, stack, "bob", Tier.FREE)
    small_id = bob.upload(vcf(known_snps, 1000), "small.vcf")
    submitted = time.monotonic()
    answer = bob.request("POST", f"/jobs/{small_id}/submit")
    assert answer.status_code == 200, answer.text
    position = answer.json()["queue_position"]
    assert position is None or position <= 2, "the burst does not push bob's job back"
    small = bob.wait_for(small_id)
    small_seconds = time.monotonic() - submitted
    burst_states = [ann.job(job_id)["status"] for job_id in burst]
    assert small["status"] == "COMPLETED", small
    assert burst_states.count("COMPLETED") < 20, "the burst was over before the check"

    finished = [ann.wait_for(job_id, timeout=600) for job_id in burst]
    burst_seconds = time.monotonic() - submitted
    assert all(job["status"] == "COMPLETED" for job in finished)
    assert all(job["summary"]["variants"] == 150_000 for job in finished)
    one_job = np.median([job["summary"]["timings_seconds"]["annotate"] for job in finished]).item()
    print(
        f"\nburst: 20 x 150k-variant jobs of one user queued; another user's 1k-variant job "
        f"(queue position {position} at submit) COMPLETED in {small_seconds:.2f} s, while "
        f"{burst_states.count('COMPLETED')} of the 20 had completed; the burst took "
        f"{burst_seconds:.1f} s (one large job annotates in ~{one_job:.2f} s)"
    )
    assert small_seconds < 60  # sanity only; the figure is printed


def test_the_annotator_refuses_a_premium_file_over_the_decompressed_size_cap(
    stack: Stack,
    start_service: StartService,
    start_annotator: Callable[..., ServiceProcess],
    known_snps: list[str],
) -> None:
    cap = {"GAS_PREMIUM_SIZE_LIMIT_BYTES": "100000"}
    jobs = start_service("jobs", stack, **cap)
    start_annotator(**cap)
    paula = Client(jobs, stack, "paula", Tier.PREMIUM)
    packed = gzip.compress(vcf(known_snps, 5000))
    assert len(packed) < 100_000 < len(vcf(known_snps, 5000))

    too_big = paula.wait_for(paula.submit(packed, "big.vcf.gz"))
    assert too_big["status"] == "FAILED", too_big
    assert "more than 97.7 KiB of VCF text once decompressed" in too_big["error"]
    assert "Split it into smaller files" in too_big["error"]
    assert "more than 97.7 KiB" in paula.request("GET", f"/jobs/{too_big['id']}/log").text

    fits = paula.wait_for(paula.submit(gzip.compress(vcf(known_snps, 3000)), "ok.vcf.gz"))
    assert fits["status"] == "COMPLETED", fits


def test_a_record_too_large_for_consequences_fails_with_its_line_and_the_worker_goes_on(
    stack: Stack,
    start_service: StartService,
    start_annotator: Callable[..., ServiceProcess],
    known_snps: list[str],
) -> None:
    """A 3 kb REF with 100,000 ALT alleles at TP53, a 40 KB gzip, would copy the REF 100,000
    times (286 MiB) and then write it into the HGVSc of millions of CSQ entries (gigabytes).
    The user is told the line and what to do, and the next job is annotated."""
    jobs = start_service("jobs", stack)
    start_annotator()
    paula = Client(jobs, stack, "paula", Tier.PREMIUM)
    rng = np.random.default_rng(3)
    ref = "".join("ACGT"[i] for i in rng.integers(0, 4, 3000))
    record = f"17\t7577000\t.\t{ref}\t{','.join(['C', 'G', 'T'] * 33334)}\t.\t.\t.\n"
    packed = gzip.compress((HEADER + record).encode())
    job = paula.wait_for(paula.submit(packed, "huge-record.vcf.gz"))
    assert job["status"] == "FAILED", job
    assert job["error"].startswith("Line 4: this record is too large to write consequences")
    assert "100002 ALT alleles" in job["error"]
    assert "bcftools norm -m -any" in job["error"] and "--no-consequences" in job["error"]

    fits = paula.wait_for(paula.submit(vcf(known_snps, 200), "ok.vcf"))
    assert fits["status"] == "COMPLETED", fits


def test_a_job_over_the_time_cap_is_stopped_once_and_the_worker_goes_on(
    stack: Stack,
    start_service: StartService,
    start_annotator: Callable[..., ServiceProcess],
    known_snps: list[str],
) -> None:
    jobs = start_service("jobs", stack)
    # The cap counts from the engine's start on the file, a fresh engine's warm-up included.
    start_annotator(GAS_ANNOTATOR_PREMIUM_JOB_SECONDS="3")
    paula = Client(jobs, stack, "paula", Tier.PREMIUM)
    slow = gzip.compress(vcf(known_snps * 3, 1_000_000), compresslevel=1)  # ~5 s of work

    started = time.monotonic()
    stopped = paula.wait_for(paula.submit(slow, "slow.vcf.gz"))
    stopped_seconds = time.monotonic() - started
    assert stopped["status"] == "FAILED", stopped
    assert "stopped after 3 s, the longest a premium job may run" in stopped["error"]
    assert get_job(stack, stopped["id"]).attempts == 1  # refused, not retried

    after = paula.wait_for(paula.submit(vcf(known_snps, 1000)))
    assert after["status"] == "COMPLETED", after
    print(f"\ntime cap 3 s: the job was FAILED {stopped_seconds:.2f} s after submit")


def test_a_lone_users_burst_of_small_jobs_all_complete(
    stack: Stack,
    start_service: StartService,
    start_annotator: Callable[..., ServiceProcess],
    known_snps: list[str],
) -> None:
    """The per-user share's cost: a lone user runs on all but one slot, and requests beyond
    the waiting places come back in waves. The throughput is printed."""
    jobs = start_service("jobs", stack)
    start_annotator()
    ann = Client(jobs, stack, "ann", Tier.FREE)
    small = vcf(known_snps, 1000)
    job_ids = [ann.upload(small, f"small-{n}.vcf") for n in range(30)]
    started = time.monotonic()
    for job_id in job_ids:
        assert ann.request("POST", f"/jobs/{job_id}/submit").status_code == 200
    submitted = time.monotonic() - started
    finished = [ann.wait_for(job_id) for job_id in job_ids]
    seconds = time.monotonic() - started
    assert all(job["status"] == "COMPLETED" for job in finished)
    print(
        f"\nlone burst: 30 x 1k-variant jobs of one user submitted in {submitted:.1f} s, all "
        f"COMPLETED {seconds:.1f} s after the first submit ({30 / seconds:.1f} jobs/s)"
    )
