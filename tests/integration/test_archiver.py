"""The archiver on the local stack: free results go to cold storage after the free window,
come back on upgrade, premium results never leave, and a crash never loses a result."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from gas_archiver.repository import StorageRepository
from gas_core.aws import aws_clients
from gas_core.events import JobCompleted, JobCompletedPayload
from gas_core.jobs import (
    JobRecord,
    JobStatus,
    JobTable,
    StorageState,
    columnar_key_for,
    job_file_key,
    utc_timestamp,
)
from gas_core.tiers import Tier
from gas_gateway.payments import TEST_CARD_ACCEPTED
from gas_notifier.captured import read_captured_mails
from gas_testing.gateway import GatewayProcess, provision_user
from gas_testing.localstack import set_restore_speed, wait_until
from gas_testing.plugin import (
    ServiceProcess,
    Stack,
    StartService,
    get_job,
    publish,
    put_jobs,
    queue_drained,
    with_jobs,
)

pytestmark = pytest.mark.integration

WINDOW_SECONDS = 2
KILL_TEST_JOBS = 40
RESTORE_STEP_SECONDS = 2


# Completed jobs written straight into the repository and the results bucket, as the
# annotator leaves them; object and storage states read back.


@dataclass(frozen=True)
class StoredObject:
    storage_class: str
    body: bytes | None
    sha256: str | None  # base64, as S3 reports it, when S3 has a checksum


def create_completed_job(
    stack: Stack, *, user_id: str, tier: Tier, result: bytes, filename: str = "sample.vcf"
) -> JobRecord:
    """A COMPLETED job whose result is AVAILABLE in the results bucket, as the annotator
    leaves it."""
    return create_completed_jobs(
        stack, user_id=user_id, tier=tier, results=[result], filename=filename
    )[0]


def create_completed_jobs(
    stack: Stack, *, user_id: str, tier: Tier, results: list[bytes], filename: str = "sample.vcf"
) -> list[JobRecord]:
    settings = stack.settings
    stem = filename.removesuffix(".vcf")
    jobs = []
    objects: dict[str, bytes] = {}
    for result in results:
        job_id = uuid.uuid4().hex
        now = utc_timestamp()
        result_key = job_file_key(user_id=user_id, job_id=job_id, filename=f"{stem}.annot.vcf.gz")
        log_key = job_file_key(user_id=user_id, job_id=job_id, filename=f"{stem}.annot.log")
        # With the results viewer's columnar copy beside the result, as the annotator leaves it.
        objects |= {result_key: result, log_key: b"log\n", columnar_key_for(result_key): b"PAR1"}
        jobs.append(
            JobRecord(
                job_id=job_id,
                user_id=user_id,
                tier=tier,
                status=JobStatus.COMPLETED,
                storage=StorageState.AVAILABLE,
                submitted_at=now,
                created_at=now,
                queued_at=now,
                completed_at=now,
                input_filename=filename,
                input_size_bytes=len(result),
                input_bucket=settings.inputs_bucket,
                input_key=job_file_key(user_id=user_id, job_id=job_id, filename=filename),
                results_bucket=settings.results_bucket,
                result_key=result_key,
                log_key=log_key,
                summary={"variants": 3, "in_dbsnp": 2, "pct_in_dbsnp": 66.667, "build": "GRCh37"},
                progress=100,
                outcome_published=True,
            )
        )

    async def write() -> None:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            for key, body in objects.items():
                await s3.put_object(Bucket=settings.results_bucket, Key=key, Body=body)

    asyncio.run(write())
    asyncio.run(put_jobs(stack, *jobs))
    return jobs


def completed_event(job: JobRecord) -> JobCompleted:
    return JobCompleted(
        job_id=job.job_id,
        user_id=job.user_id,
        payload=JobCompletedPayload(
            tier=job.tier,
            result_key=job.result_key or "",
            log_key=job.log_key or "",
            summary=job.summary or {},
        ),
    )


def storage_states(stack: Stack, job_ids: list[str]) -> dict[str, StorageState | None]:
    async def read(table: JobTable) -> dict[str, StorageState | None]:
        states = {}
        for job_id in job_ids:
            job = await table.get(job_id)
            states[job_id] = job.storage if job else None
        return states

    return with_jobs(stack, JobTable, read)


def read_object(stack: Stack, bucket: str, key: str) -> StoredObject | None:
    """The object's storage class and bytes (none for archived objects), or None if absent."""
    return read_objects(stack, bucket, [key])[key]


def read_objects(stack: Stack, bucket: str, keys: list[str]) -> dict[str, StoredObject | None]:
    async def read_one(s3: Any, key: str) -> StoredObject | None:
        try:
            head = await s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError:
            return None
        storage_class = str(head.get("StorageClass", "STANDARD"))
        checksum = head.get("ChecksumSHA256")
        if storage_class != "STANDARD":
            return StoredObject(storage_class=storage_class, body=None, sha256=checksum)
        response = await s3.get_object(Bucket=bucket, Key=key)
        async with response["Body"] as stream:
            body = await stream.read()
        return StoredObject(storage_class=storage_class, body=body, sha256=checksum)

    async def read() -> dict[str, StoredObject | None]:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            return {key: await read_one(s3, key) for key in keys}

    return asyncio.run(read())


def sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def annotated_vcf(label: str) -> bytes:
    lines = [b"##fileformat=VCFv4.2", f"##label={label}".encode()]
    lines.append(b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    lines += [f"1\t{69000 + i}\t.\tA\tG\t50\tPASS\tGENE=OR4F5".encode() for i in range(200)]
    return gzip.compress(b"\n".join(lines) + b"\n")


def start_archiver(
    start_service: StartService, stack: Stack, gateway: GatewayProcess
) -> ServiceProcess:
    return start_service(
        "archiver",
        stack,
        GAS_FREE_WINDOW_SECONDS=str(WINDOW_SECONDS),
        GAS_ARCHIVER_GATEWAY_URL=gateway.internal_url,
        GAS_ARCHIVER_RECONCILE_INTERVAL_SECONDS="0.5",
        GAS_ARCHIVER_VISIBILITY_SECONDS="3",
        GAS_ARCHIVER_RECEIVE_WAIT_SECONDS="1",
    )


def api(gateway: GatewayProcess, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
    )


def storage_is(stack: Stack, job_id: str, state: StorageState) -> Callable[[], JobRecord | None]:
    def probe() -> JobRecord | None:
        job = get_job(stack, job_id)
        return job if job.storage is state else None

    return probe


def new_user(database_url: str, tier: Tier) -> tuple[str, str, str]:
    email = f"{tier.value}-{uuid.uuid4().hex[:8]}@example.org"
    user_id, token = provision_user(database_url, email=email, tier=tier)
    return user_id, token, email


def test_a_free_result_goes_cold_after_the_window_and_comes_back_on_upgrade(
    stack: Stack, start_service: StartService, gateway: GatewayProcess, gateway_database: str
) -> None:
    user_id, token, email = new_user(gateway_database, Tier.FREE)
    archiver = start_archiver(start_service, stack, gateway)
    readiness = httpx.get(f"{archiver.url}/readyz", timeout=5).json()["checks"]
    assert readiness == {
        f"queue {stack.settings.archiver_queue}": "ok",
        f"queue {stack.settings.restore_queue}": "ok",
    }
    start_service(
        "notifier",
        stack,
        GAS_NOTIFIER_GATEWAY_URL=gateway.internal_url,
        GAS_NOTIFIER_RECEIVE_WAIT_SECONDS="1",
    )
    client = api(gateway, token)
    result = annotated_vcf("free")
    job = create_completed_job(stack, user_id=user_id, tier=Tier.FREE, result=result)
    assert job.result_key
    columnar_key = columnar_key_for(job.result_key)
    publish(stack, stack.settings.job_events_topic, completed_event(job))

    within_window = client.get(f"/api/jobs/{job.job_id}/result")
    assert within_window.status_code == 200, within_window.text

    wait_until(
        storage_is(stack, job.job_id, StorageState.ARCHIVED),
        timeout=WINDOW_SECONDS + 20,
        what="archiving after the free window",
    )
    cold = read_object(stack, stack.settings.archive_bucket, job.result_key)
    assert cold is not None and cold.storage_class == "GLACIER"
    assert cold.sha256 == sha256(result)
    assert read_object(stack, stack.settings.results_bucket, job.result_key) is None
    assert read_object(stack, stack.settings.results_bucket, columnar_key) is None
    refused = client.get(f"/api/jobs/{job.job_id}/result")
    assert refused.status_code == 409
    assert "archived — upgrade to premium to restore it" in refused.json()["detail"]
    not_viewable = client.get(f"/api/jobs/{job.job_id}/variants")
    assert not_viewable.status_code == 409
    assert "archived — upgrade to premium" in not_viewable.json()["detail"]

    moto_url = str(stack.aws.endpoint_url)
    set_restore_speed(moto_url, RESTORE_STEP_SECONDS)
    # moto counts the first step from when the object was written, and calls a restore
    # done before that step: wait it out so the restore is seen under way.
    time.sleep(RESTORE_STEP_SECONDS)
    try:
        upgraded = client.post("/api/me/upgrade", json={"card_number": TEST_CARD_ACCEPTED})
        assert upgraded.status_code == 200, upgraded.text
        wait_until(
            storage_is(stack, job.job_id, StorageState.RESTORING),
            timeout=15,
            what="the restore starting after the upgrade",
            every=0.1,
        )
        shown = client.get(f"/api/jobs/{job.job_id}").json()
        assert shown["storage"] == "RESTORING" and shown["restore_tier"] == "Expedited"
        restoring = client.get(f"/api/jobs/{job.job_id}/result")
        assert restoring.status_code == 409
        assert "being restored; you will get an email" in restoring.json()["detail"]
        wait_until(
            storage_is(stack, job.job_id, StorageState.AVAILABLE),
            timeout=30,
            what="the restore finishing",
        )
    finally:
        set_restore_speed(moto_url, None)

    link = client.get(f"/api/jobs/{job.job_id}/result")
    assert link.status_code == 200, link.text
    assert httpx.get(link.json()["url"]).content == result
    assert read_object(stack, stack.settings.archive_bucket, job.result_key) is None
    # The viewer works again: the jobs service rebuilds the columnar copy from the VCF.
    viewed = client.get(f"/api/jobs/{job.job_id}/variants", params={"gene": "OR4F5"})
    assert viewed.status_code == 200, viewed.text
    assert viewed.json()["count"] == 200
    assert read_object(stack, stack.settings.results_bucket, columnar_key) is not None
    mails = wait_until(
        lambda: [
            mail
            for mail in read_captured_mails(moto_url)
            if email in mail.to and "available again" in mail.subject
        ],
        timeout=15,
        what="the 'restored' mail",
    )
    assert f"/jobs/{job.job_id}" in mails[0].text
    time.sleep(1)  # a second mail, if one were coming, would be sent by now
    subjects = sorted(m.subject for m in read_captured_mails(moto_url) if email in m.to)
    assert subjects == [
        "Your GAS annotation sample.annot.vcf.gz is ready",
        f"Your GAS results for job {job.job_id[:8]} are available again",
        f"Your GAS results for job {job.job_id[:8]} moved to cold storage",
    ]


def test_premium_results_stay_and_an_upgrade_before_the_archive_commit_keeps_the_result(
    stack: Stack, start_service: StartService, gateway: GatewayProcess, gateway_database: str
) -> None:
    premium_id, _, _ = new_user(gateway_database, Tier.PREMIUM)
    free_id, free_token, _ = new_user(gateway_database, Tier.FREE)
    premium_job = create_completed_job(
        stack, user_id=premium_id, tier=Tier.PREMIUM, result=annotated_vcf("premium")
    )
    in_window = create_completed_job(
        stack, user_id=free_id, tier=Tier.FREE, result=annotated_vcf("in window")
    )
    # An archive under way: the job is ARCHIVING and its cold copy is written, not committed.
    mid_archive = create_completed_job(
        stack, user_id=free_id, tier=Tier.FREE, result=annotated_vcf("mid-archive")
    )
    assert with_jobs(
        stack, StorageRepository, lambda repo: repo.start_archiving(job_id=mid_archive.job_id)
    )
    start_archiver(start_service, stack, gateway)
    client = api(gateway, free_token)

    upgraded = client.post("/api/me/upgrade", json={"card_number": TEST_CARD_ACCEPTED})
    assert upgraded.status_code == 200, upgraded.text
    wait_until(
        storage_is(stack, mid_archive.job_id, StorageState.AVAILABLE),
        timeout=15,
        what="the archive under way being cancelled by the upgrade",
    )
    publish(
        stack,
        stack.settings.job_events_topic,
        *(completed_event(job) for job in (premium_job, in_window, mid_archive)),
    )
    time.sleep(WINDOW_SECONDS + 1)
    wait_until(
        lambda: queue_drained(stack, stack.settings.archiver_queue),
        timeout=20,
        what="the archiver handling every message",
    )

    for job, owner in ((premium_job, None), (in_window, client), (mid_archive, client)):
        assert job.result_key
        assert get_job(stack, job.job_id).storage is StorageState.AVAILABLE
        hot = read_object(stack, stack.settings.results_bucket, job.result_key)
        assert hot is not None and hot.body, f"{job.job_id} lost its result"
        if owner is not None:
            link = owner.get(f"/api/jobs/{job.job_id}/result")
            assert link.status_code == 200, link.text
            assert httpx.get(link.json()["url"]).content == hot.body
    for job in (premium_job, in_window):
        assert job.result_key
        assert read_object(stack, stack.settings.archive_bucket, job.result_key) is None


def test_an_archiver_killed_mid_archive_loses_nothing_and_finishes_on_restart(
    stack: Stack, start_service: StartService, gateway: GatewayProcess, gateway_database: str
) -> None:
    user_id, _, _ = new_user(gateway_database, Tier.FREE)
    results = [annotated_vcf(f"run {n}") for n in range(KILL_TEST_JOBS)]
    jobs = create_completed_jobs(stack, user_id=user_id, tier=Tier.FREE, results=results)
    expected = {job.result_key or "": body for job, body in zip(jobs, results, strict=True)}
    keys = list(expected)
    job_ids = [job.job_id for job in jobs]
    time.sleep(WINDOW_SECONDS)  # every window is over: the archiver starts at full speed
    publish(stack, stack.settings.job_events_topic, *(completed_event(job) for job in jobs))
    archiver = start_archiver(start_service, stack, gateway)

    wait_until(
        lambda: '"msg": "archived ' in archiver.log(),
        timeout=20,
        what="the first archive commit",
        every=0.01,
    )
    archiver.kill()

    states = storage_states(stack, job_ids)
    hot = read_objects(stack, stack.settings.results_bucket, keys)
    cold = read_objects(stack, stack.settings.archive_bucket, keys)
    for job_id, key in zip(job_ids, keys, strict=True):
        if states[job_id] is StorageState.ARCHIVED:
            copy = cold[key]
            assert copy is not None and copy.storage_class == "GLACIER"
            assert copy.sha256 == sha256(expected[key])
        else:
            copy = hot[key]
            assert copy is not None and copy.body == expected[key], f"{states[job_id]} lost it"
    assert StorageState.ARCHIVED in states.values()
    assert set(states.values()) != {StorageState.ARCHIVED}, "the kill came after all the work"

    start_archiver(start_service, stack, gateway)
    wait_until(
        lambda: set(storage_states(stack, job_ids).values()) == {StorageState.ARCHIVED},
        timeout=30,
        what="every job archived after the restart",
    )
    wait_until(
        lambda: queue_drained(stack, stack.settings.archiver_queue),
        timeout=20,
        what="the archiver finishing every message",
    )
    assert set(read_objects(stack, stack.settings.results_bucket, keys).values()) == {None}
    cold = read_objects(stack, stack.settings.archive_bucket, keys)
    for key, copy in cold.items():
        assert copy is not None and copy.storage_class == "GLACIER"
        assert copy.sha256 == sha256(expected[key])


def test_an_archive_whose_message_was_lost_is_finished_by_the_periodic_pass(
    stack: Stack, start_service: StartService, gateway: GatewayProcess, gateway_database: str
) -> None:
    user_id, _, _ = new_user(gateway_database, Tier.FREE)
    result = annotated_vcf("stalled")
    job = create_completed_job(stack, user_id=user_id, tier=Tier.FREE, result=result)
    # What a dead-lettered job.completed leaves: ARCHIVING, the hot copy still there, and no
    # message left to finish it.
    started = with_jobs(
        stack,
        StorageRepository,
        lambda repo: repo.start_archiving(job_id=job.job_id, since="2000-01-01T00:00:00.000000Z"),
    )
    assert started

    start_service(
        "archiver",
        stack,
        GAS_FREE_WINDOW_SECONDS="0",
        GAS_ARCHIVER_GATEWAY_URL=gateway.internal_url,
        GAS_ARCHIVER_RECONCILE_INTERVAL_SECONDS="0.5",
        GAS_ARCHIVER_STALLED_ARCHIVE_SECONDS="60",
    )
    wait_until(storage_is(stack, job.job_id, StorageState.ARCHIVED), timeout=20, what="the archive")
    key = job.result_key or ""
    assert read_object(stack, stack.settings.results_bucket, key) is None
    cold = read_object(stack, stack.settings.archive_bucket, key)
    assert cold is not None and cold.storage_class == "GLACIER"
    assert cold.sha256 == sha256(result)
