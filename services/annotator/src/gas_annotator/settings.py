import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from gas_core.settings import ServiceSettings


def available_cpus() -> int:
    """CPUs this process may use: the cgroup quota (a pod's CPU limit) when one is set, else
    the CPUs it is allowed to run on."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return cpus or 1
    if quota == "max":
        return cpus or 1
    return max(1, min(cpus or 1, -(-int(quota) // int(period))))


def default_job_slots() -> int:
    """One job per CPU, and never fewer than two: with the per-user share (slots - 1 per
    user) a second slot is what lets another user's job start beside a long one."""
    return max(2, available_cpus())


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GAS_ANNOTATOR_", extra="ignore")

    port: int = 8002
    jobs_per_process: int = Field(
        default_factory=default_job_slots,
        ge=1,
        le=64,
        description="job slots (and warm engine processes); default: CPUs of the pod, at least 2",
    )
    waiting_requests: int = Field(
        default=4,
        ge=1,
        le=64,
        description="requests a worker holds beyond its slots, waiting for one; one user may "
        "fill all but one of these places",
    )
    user_share_wait_seconds: int = Field(
        default=3,
        ge=1,
        le=900,
        description="a request that can neither start nor wait here is sent back to the "
        "queue with this delay, so other users' requests behind it are received",
    )
    free_job_seconds: float = Field(
        default=300, gt=0, description="wall-clock cap on one free job's annotation"
    )
    premium_job_seconds: float = Field(
        default=6 * 3600, gt=0, description="wall-clock cap on one premium job's annotation"
    )
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
    scratch_reserve_bytes: int = Field(
        default=256 * 1024**2,
        ge=0,
        description="work_dir space kept free beyond a job's input and estimated output; a "
        "job that cannot fit even in an empty work_dir fails with a message saying so",
    )
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
