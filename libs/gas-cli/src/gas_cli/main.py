"""``gas``: submit VCF files to GAS, follow jobs and download results from a terminal."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import click

from gas_cli import config, upload
from gas_cli.client import ApiError, GasClient

FINISHED = {"COMPLETED", "FAILED"}
STATUSES = click.Choice(["CREATED", "QUEUED", "RUNNING", "COMPLETED", "FAILED"])


@contextmanager
def api(settings: config.Config | None = None) -> Iterator[GasClient]:
    """A client for ``settings`` (default: the saved configuration); API errors end the command."""
    try:
        client = GasClient(settings or config.load())
    except config.NotConfigured as error:
        raise click.ClickException(str(error)) from error
    try:
        yield client
    except ApiError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()


def _progress_bar(length: int, label: str) -> Any:
    return click.progressbar(length=length, label=label, file=sys.stderr, show_pos=False)


@click.group()
@click.version_option(package_name="gas-cli")
def main() -> None:
    """Annotate VCF files with GAS. Needs an API token: `gas configure --token gas_...`
    (or GAS_URL / GAS_TOKEN in the environment)."""


@main.command()
@click.option("--url", default=config.DEFAULT_URL, show_default=True, help="Where GAS is.")
@click.option("--token", prompt=True, hide_input=True, help="A personal API token (gas_...).")
def configure(url: str, token: str) -> None:
    """Save the GAS URL and your API token, and check that they work."""
    settings = config.Config(url=url.rstrip("/"), token=token)
    with api(settings) as client:
        me = client.me()
    path = config.save(settings)
    click.echo(f"signed in as {me['email']} ({me['tier']}); saved to {path}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--build", type=click.Choice(["GRCh37", "GRCh38"]), help="Skip build detection.")
@click.option("--wait", is_flag=True, help="Follow the job until it finishes.")
@click.option("--poll-seconds", default=2.0, show_default=True, help="How often --wait asks.")
@click.option(
    "--parallel",
    default=4,
    show_default=True,
    type=click.IntRange(1, 32),
    envvar="GAS_PARALLEL",
    help="Parts of a large file uploaded at once (env GAS_PARALLEL).",
)
@click.option("--resume", "resume_job", metavar="JOB", help="Continue this job's upload.")
def submit(
    file: Path,
    build: str | None,
    wait: bool,
    poll_seconds: float,
    parallel: int,
    resume_job: str | None,
) -> None:
    """Upload FILE (VCF, plain or bgzipped) and queue it for annotation; prints the job id.

    A large file goes in parts; if the upload is interrupted, run the same command again
    (or name the job with --resume) and only the missing parts are sent."""
    size = file.stat().st_size
    with api() as client:
        fingerprint = upload.fingerprint(file)
        job = _job_to_resume(client, file, fingerprint, resume_job)
        if job is None:
            created = client.create_job(
                filename=file.name, size_bytes=size, build=build, fingerprint=fingerprint
            )
            job = created["job"]
            if created["upload"]:
                with _progress_bar(size, f"Uploading {file.name}") as bar:
                    client.upload(created["upload"], file, bar.update)
        if job.get("upload"):
            _upload_in_parts(client, file, job, fingerprint, parallel=parallel)
        job_id = job["id"]
        job = client.submit(job_id)
        click.echo(f"job {job_id} {job['status'].lower()}", err=True)
        if wait:
            job = _follow(client, job_id, poll_seconds=poll_seconds)
    click.echo(job_id)
    if wait and job["status"] == "FAILED":
        raise SystemExit(1)


def _resume_state() -> upload.ResumeState:
    return upload.ResumeState(config.config_path().with_name("uploads.json"))


def _job_to_resume(
    client: GasClient, file: Path, fingerprint: str, job_id: str | None
) -> dict[str, Any] | None:
    """The job whose upload of this file was interrupted: the one named, else the one this
    machine remembers, else one the server knows by the file's fingerprint."""
    if job_id:
        job = client.job(job_id)
        plan = job.get("upload")
        if not plan:
            if job["status"] == "CREATED":
                return job  # uploaded, not submitted yet
            raise click.ClickException(
                f"job {job_id} is {job['status'].lower()}: there is no upload to resume"
            )
        if plan.get("fingerprint") not in (None, fingerprint):
            raise click.ClickException(
                f"job {job_id} is uploading a different file (or {file.name} changed since); "
                "submit it as a new job"
            )
        return job
    remembered = _resume_state().job_for(fingerprint)
    candidates: list[dict[str, Any]] = []
    if remembered:
        with suppress(ApiError):
            candidates.append(client.job(remembered))
    candidates += client.jobs(status="CREATED", limit=100)["data"]
    for job in candidates:
        plan = job.get("upload")
        if job["status"] == "CREATED" and plan and plan.get("fingerprint") == fingerprint:
            click.echo(f"resuming the upload of job {job['id']}", err=True)
            return job
    return None


def _upload_in_parts(
    client: GasClient, file: Path, job: dict[str, Any], fingerprint: str, *, parallel: int
) -> None:
    job_id = job["id"]
    state = _resume_state()
    state.remember(fingerprint, job_id, file)
    held = client.uploaded_parts(job_id)
    plan = upload.Plan(
        part_bytes=held["upload"]["part_bytes"], part_count=held["upload"]["part_count"]
    )
    size = file.stat().st_size
    todo = upload.missing_parts(plan, size, held["parts"])
    done_bytes = size - sum(plan.span(n, size)[1] for n in todo)
    if len(todo) < plan.part_count:
        click.echo(
            f"{plan.part_count - len(todo)} of {plan.part_count} parts already uploaded; "
            f"sending the other {len(todo)}",
            err=True,
        )
    label = f"Uploading {file.name} ({plan.part_count} parts, {parallel} at once)"
    with _progress_bar(size, label) as bar:
        bar.update(done_bytes)
        try:
            upload.upload_parts(
                file,
                plan,
                todo,
                part_urls=lambda parts: client.part_urls(job_id, parts),
                parallel=parallel,
                on_part=bar.update,
            )
        except upload.UploadFailed as error:
            raise click.ClickException(
                f"{error}; run the same command again to resume (job {job_id})"
            ) from error
    client.complete_upload(job_id)
    state.forget(fingerprint)


def _follow(client: GasClient, job_id: str, *, poll_seconds: float) -> dict[str, Any]:
    shown = 0
    with _progress_bar(100, "Annotating") as bar:
        while True:
            job = client.job(job_id)
            progress = int(job.get("progress") or 0)
            if progress > shown:
                bar.update(progress - shown)
                shown = progress
            if job["status"] in FINISHED:
                break
            time.sleep(poll_seconds)
    if job["status"] == "COMPLETED":
        click.echo(f"job {job_id} completed: `gas download {job_id}` gets the result", err=True)
    else:
        click.echo(f"job {job_id} failed: {job.get('error') or 'see `gas log`'}", err=True)
    return job


@main.command()
@click.option("--status", type=STATUSES, help="Only jobs in this state.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON page.")
def jobs(status: str | None, limit: int, as_json: bool) -> None:
    """Your jobs, newest first."""
    with api() as client:
        page = client.jobs(status=status, limit=limit)
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    for job in page["data"]:
        click.echo(
            f"{job['id']}  {job['status']:<9} {job['progress']:>3}%  "
            f"{job['submitted_at'][:19]}  {job['input_filename']}"
        )
    more = f", first {len(page['data'])} shown" if page.get("next") else ""
    click.echo(f"{page['count']} job(s){more}", err=True)


@main.command()
@click.argument("job_id")
def show(job_id: str) -> None:
    """Everything about one job."""
    with api() as client:
        job = client.job(job_id)
    click.echo(json.dumps(job, indent=2))


@main.command()
@click.argument("job_id")
def log(job_id: str) -> None:
    """The annotation log of a job."""
    with api() as client:
        click.echo(client.log(job_id), nl=False)


@main.command()
@click.argument("job_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=True, path_type=Path),
    help="File or folder to write to (default: the result's name, here).",
)
def download(job_id: str, output: Path | None) -> None:
    """Download the annotated VCF of a completed job."""
    with api() as client:
        link = client.result(job_id)
        destination = output or Path(link["filename"])
        if destination.is_dir():
            destination = destination / link["filename"]
        with _progress_bar(0, f"Downloading {destination.name}") as bar:

            def advance(chunk: int, total: int) -> None:
                if total and not bar.length:
                    bar.length = total
                bar.update(chunk)

            client.download(link["url"], destination, advance)
    click.echo(str(destination))
