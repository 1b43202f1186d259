from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from gas_core.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GAS_ANNOTATOR_", extra="ignore")

    port: int = 8002
    jobs_per_process: int = Field(default=1, ge=1, le=64)
    visibility_seconds: int = Field(default=60, ge=2, le=43200)
    receive_wait_seconds: int = Field(
        default=10, ge=0, le=20, description="SQS long poll; SIGTERM may wait this long"
    )
    lease_seconds: float = Field(
        default=30.0,
        gt=1,
        description="a RUNNING job whose worker stops renewing is re-runnable after this",
    )
    engine_max_jobs: int = Field(
        default=200, ge=1, description="a warm engine process is replaced after this many jobs"
    )
    progress_interval_seconds: float = Field(default=1.0, gt=0)
    stop_grace_seconds: float = Field(default=25.0, ge=0)
    work_dir: Path | None = Field(default=None, description="temp space for inputs and outputs")
    bundle_cache_dir: Path | None = Field(
        default=None,
        description="reference bundle cache; default: ANNTOOLS_CACHE or ~/.cache/anntools",
    )
    reference_uri: str | None = Field(
        default=None,
        pattern=r"^s3://[a-z0-9.-]+(/.*)?$",
        description="s3://bucket/prefix holding prebuilt bundles; unset = build with bundle_builder",
    )
    bundle_builder: str = Field(
        default="uv run --frozen --project tools/bundle-builder anntools",
        description="without reference_uri: the command that runs anntools in the bundle "
        "builder's environment to build a missing bundle (default: from the repository root)",
    )
    bundle_builds: tuple[str, ...] = ("GRCh37", "GRCh38")
