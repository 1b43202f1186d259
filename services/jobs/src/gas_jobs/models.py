"""Request and response schemas of the job API (never the storage record itself)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool

from gas_core.jobs import JobRecord, JobStatus, StorageState
from gas_jobs.parts import part_count

Build = Literal["GRCh37", "GRCh38"]


class JobCreate(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    size_bytes: int = Field(gt=0, description="the size of the file the client will upload")
    build: Build | None = Field(default=None, description="omit to detect it from the file")
    # Strict: `"force_build": 0` is a mistake to point out, not a false to guess.
    force_build: StrictBool = Field(
        default=False,
        description=(
            "annotate with `build` even when the file's header or records say another build "
            "(otherwise submit refuses such a file with 422); ignored without `build`"
        ),
    )
    fingerprint: str | None = Field(
        default=None,
        max_length=128,
        description="the client's fingerprint of the file, so an interrupted upload in parts "
        "can be found again (GET /jobs?status=CREATED shows it)",
    )


class BuildCheckPublic(BaseModel):
    """What the upload's header and first records say about its genome build, judged at
    submit by anntools' rules; the annotator checks the whole file again when it runs."""

    detected: str | None = Field(
        description="GRCh37, GRCh38 or NCBI36 (refused); null when the start does not tell"
    )
    source: str = Field(
        description="what decided: header, data (the records), forced (the chosen build, "
        "not contradicted) or default (nothing decided)"
    )
    reason: str
    evidence: list[str] = Field(description="every clue seen, one per line")
    records_read: int = Field(description="records of the file's start that were looked at")
    data_tested: bool = Field(
        description="the records were tested against each build's common SNPs and exons "
        "(false: header clues and chromosome ends only)",
    )
    forced: bool = Field(description="the chosen build was kept against this evidence")


class Problem(BaseModel):
    """An error answer: what was wrong and what to do."""

    detail: str


class JobPublic(BaseModel):
    id: str
    status: JobStatus
    storage: StorageState | None
    restore_tier: str | None = Field(
        default=None,
        description="S3 retrieval tier of the latest restore (Expedited: minutes; Standard: hours)",
    )
    progress: int
    queue_position: int | None = Field(description="1 = next to run; only while QUEUED")
    input_filename: str
    input_size_bytes: int
    build: str | None
    force_build: bool
    build_check: BuildCheckPublic | None = Field(
        description="the build detected at submit and its evidence (null before submit)"
    )
    tier: str
    submitted_at: str
    queued_at: str | None
    started_at: str | None
    completed_at: str | None
    error: str | None
    summary: dict[str, Any] | None
    provenance: dict[str, Any] | None = Field(
        description="the reference data used, and `input_checksum`: the uploaded file's "
        "checksum as S3 computed it"
    )
    upload: MultipartPlan | None = Field(
        default=None, description="while a file is being uploaded in parts: how"
    )

    @classmethod
    def from_record(cls, job: JobRecord, *, queue_position: int | None = None) -> JobPublic:
        return cls(
            id=job.job_id,
            status=job.status,
            storage=job.storage,
            restore_tier=job.restore_tier,
            progress=job.progress,
            queue_position=queue_position,
            input_filename=job.input_filename,
            input_size_bytes=job.input_size_bytes,
            build=job.build,
            force_build=job.force_build,
            build_check=(
                BuildCheckPublic.model_validate(job.build_check) if job.build_check else None
            ),
            tier=job.tier.value,
            submitted_at=job.submitted_at,
            queued_at=job.queued_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
            error=job.error,
            summary=job.summary,
            provenance=(
                {**(job.provenance or {}), "input_checksum": job.input_checksum}
                if job.input_checksum
                else job.provenance
            ),
            upload=MultipartPlan.of(job),
        )


class UploadForm(BaseModel):
    """POST the file as multipart/form-data to ``url`` with ``fields`` plus ``file`` last."""

    url: str
    fields: dict[str, str]
    expires_in: int


class JobCreated(BaseModel):
    job: JobPublic
    upload: UploadForm | None = Field(
        description="POST the file here; absent when it goes in parts (see job.upload)"
    )


class MultipartPlan(BaseModel):
    """A file uploaded in parts: part n (1-based) is bytes [(n-1)·part_bytes, n·part_bytes)
    of the file. Ask POST /jobs/{id}/upload/parts for the parts' URLs, PUT each part there,
    then POST /jobs/{id}/upload/complete and submit."""

    part_bytes: int
    part_count: int
    fingerprint: str | None

    @classmethod
    def of(cls, job: JobRecord) -> MultipartPlan | None:
        if not job.upload_id or not job.upload_part_bytes:
            return None
        return cls(
            part_bytes=job.upload_part_bytes,
            part_count=part_count(job),
            fingerprint=job.upload_fingerprint,
        )


class PartChecksum(BaseModel):
    number: int = Field(ge=1, le=10_000)
    sha256: str = Field(
        pattern=r"^[A-Za-z0-9+/]{43}=$",
        description="the part's SHA-256, base64-encoded (S3 checks it)",
    )


class PartUrlsRequest(BaseModel):
    parts: list[PartChecksum] = Field(min_length=1, max_length=100)


class PartUrlPublic(BaseModel):
    number: int
    url: str
    headers: dict[str, str] = Field(description="send these headers with the PUT")


class PartUrls(BaseModel):
    parts: list[PartUrlPublic]
    expires_in: int


class UploadedPart(BaseModel):
    number: int
    size: int
    sha256: str | None


class UploadedParts(BaseModel):
    """The parts S3 already holds: a resumed upload sends only the others."""

    upload: MultipartPlan
    parts: list[UploadedPart]


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int = Field(description="how many jobs match, across all pages")
    next: str | None = Field(description="cursor for the next page, absent on the last")


class ResultLink(BaseModel):
    url: str
    expires_in: int
    filename: str


class RegionClass(StrEnum):
    """The region classes anntools assigns (``anntools.fields.REGION_CLASSES``), most
    severe first."""

    CDS = "CDS"
    UTR5 = "UTR5"
    UTR3 = "UTR3"
    NCRNA_EXON = "ncRNA_exon"
    INTRON = "intron"
    PROMOTER = "promoter"
    INTERGENIC = "intergenic"


class VariantPublic(BaseModel):
    """One annotated VCF record, as the results viewer shows it."""

    chrom: str
    pos: int
    id: str = Field(description="the record's ID column: dbSNP rsIDs, or '.'")
    ref: str
    alt: str
    qual: str
    filter: str
    gene: str | None = Field(description="genes overlapping the variant, comma-separated")
    region: str | None = Field(description="the most severe region class (see RegionClass)")
    consequence: str | None = Field(
        default=None,
        description="the most severe Sequence Ontology consequence (MOST_SEVERE_CSQ); null for "
        "results annotated without consequences",
    )
    clinvar: str | None = Field(description="ClinVar significance (GRCh38 only)")
    cytoband: str | None
    in_dbsnp: bool


class VariantsPublic(BaseModel):
    data: list[VariantPublic]
    count: int = Field(description="how many variants match the filters, across all pages")
