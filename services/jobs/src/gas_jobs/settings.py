from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from gas_core.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GAS_JOBS_", extra="ignore")

    port: int = 8001
    upload_url_seconds: int = Field(default=300, ge=30, le=3600)
    download_url_seconds: int = Field(default=120, ge=10, le=3600)
    # S3 refuses single POST uploads above 5 GiB; premium inputs are capped there.
    max_upload_bytes: int = 5 * 1024**3
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
