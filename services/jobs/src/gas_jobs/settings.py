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
