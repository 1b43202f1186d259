from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from gas_core.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GAS_JOBS_", extra="ignore")

    port: int = 8001
    upload_url_seconds: int = Field(default=300, ge=30, le=3600)
    download_url_seconds: int = Field(default=120, ge=10, le=3600)
    # The largest input a premium user may upload: S3's largest object (5 TiB).
    max_upload_bytes: int = Field(default=5 * 1024**4, ge=1, le=5 * 1024**4)
    # Files above the threshold are uploaded in parts (S3 multipart; resumable), smaller
    # ones in one presigned POST (which S3 caps at 5 GiB). Parts are `multipart_part_bytes`
    # (at least S3's 5 MiB), larger when a file would need more than 10,000. An upload not
    # completed within `multipart_abandoned_seconds` is aborted (checked every
    # `multipart_abandoned_check_seconds`) and its job fails.
    multipart_threshold_bytes: int = Field(default=64 * 1024**2, ge=1, le=5 * 1024**3)
    multipart_part_bytes: int = Field(default=16 * 1024**2, ge=5 * 1024**2, le=5 * 1024**3)
    multipart_abandoned_seconds: float = Field(default=24 * 3600, gt=0)
    multipart_abandoned_check_seconds: float = Field(default=3600, gt=0)
    # A submit that stopped between queueing a job and publishing its request leaves it
    # QUEUED with no request. Every `check` seconds the service publishes the request of
    # such jobs older than `min_age` (longer than a submit normally takes).
    stranded_request_check_seconds: float = Field(default=60, gt=0)
    stranded_request_min_age_seconds: float = Field(default=30, ge=0)
    # The results viewer: columnar copies downloaded from S3 (or rebuilt from the VCF) are
    # kept in this folder (unset = a temporary folder removed when the process stops), up to
    # `results_cache_bytes` (least recently used out first), and this many stay loaded.
    results_cache_dir: Path | None = None
    results_cache_bytes: int = Field(default=4 * 1024**3, gt=0)
    results_tables_in_memory: int = Field(default=4, ge=1)
    # Live progress (GET /jobs/{id}/events): how often the job record is read, and how often
    # a comment is sent while nothing changes (load balancers close idle connections; the
    # ALB after 60 s).
    events_check_seconds: float = Field(default=1.0, gt=0)
    events_ping_seconds: float = Field(default=15.0, gt=0)
