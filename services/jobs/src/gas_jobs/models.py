"""Request and response schemas of the job API (never the storage record itself)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from gas_core.jobs import JobRecord, JobStatus, StorageState

Build = Literal["GRCh37", "GRCh38"]


class JobCreate(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    size_bytes: int = Field(gt=0, description="the size of the file the client will upload")
    build: Build | None = Field(default=None, description="omit to detect it from the file")


class Problem(BaseModel):
    """An error answer: what was wrong and what to do."""

    detail: str


class JobPublic(BaseModel):
    id: str
    status: JobStatus
    storage: StorageState | None
    progress: int
    queue_position: int | None = Field(description="1 = next to run; only while QUEUED")
    input_filename: str
    input_size_bytes: int
    build: str | None
    tier: str
    submitted_at: str
    queued_at: str | None
    started_at: str | None
    completed_at: str | None
    error: str | None
    summary: dict[str, Any] | None
    provenance: dict[str, Any] | None

    @classmethod
    def from_record(cls, job: JobRecord, *, queue_position: int | None = None) -> JobPublic:
        return cls(
            id=job.job_id,
            status=job.status,
            storage=job.storage,
            progress=job.progress,
            queue_position=queue_position,
            input_filename=job.input_filename,
            input_size_bytes=job.input_size_bytes,
            build=job.build,
            tier=job.tier.value,
            submitted_at=job.submitted_at,
            queued_at=job.queued_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
            error=job.error,
            summary=job.summary,
            provenance=job.provenance,
        )


class UploadForm(BaseModel):
    """POST the file as multipart/form-data to ``url`` with ``fields`` plus ``file`` last."""

    url: str
    fields: dict[str, str]
    expires_in: int


class JobCreated(BaseModel):
    job: JobPublic
    upload: UploadForm


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
    clinvar: str | None = Field(description="ClinVar significance (GRCh38 only)")
    cytoband: str | None
    in_dbsnp: bool


class VariantsPublic(BaseModel):
    data: list[VariantPublic]
    count: int = Field(description="how many variants match the filters, across all pages")
