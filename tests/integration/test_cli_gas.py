"""The user CLI ``gas`` against the real gateway and jobs service; a stand-in annotator
completes the job in DynamoDB/S3 the way the real one does."""

from __future__ import annotations

import asyncio
import gzip
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from gas_annotator.repository import RunRepository
from gas_cli.main import main as gas
from gas_core.aws import aws_clients
from gas_core.jobs import JobStatus, utc_timestamp
from gas_core.tiers import Tier
from gas_testing.gateway import provision_user
from gas_testing.plugin import ServiceProcess, Stack

pytestmark = pytest.mark.integration

VCF = (
    b"##fileformat=VCFv4.2\n"
    b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    b"1\t69511\t.\tA\tG\t50\tPASS\t.\n"
)
ANNOTATED = VCF.replace(b"\t.\n", b"\tGENE=OR4F5\n")


def run_one_job_like_the_annotator(stack: Stack, *, timeout: float = 30.0) -> None:
    async def run() -> None:
        async with aws_clients(stack.aws) as clients:
            repo = RunRepository(await clients.client("dynamodb"), stack.settings.jobs_table)
            s3 = await clients.client("s3")
            deadline = asyncio.get_running_loop().time() + timeout
            while asyncio.get_running_loop().time() < deadline:
                table = await clients.client("dynamodb")
                items = (await table.scan(TableName=stack.settings.jobs_table))["Items"]
                queued = [i["job_id"]["S"] for i in items if i["status"]["S"] == JobStatus.QUEUED]
                if queued:
                    break
                await asyncio.sleep(0.2)
            else:
                raise TimeoutError("no job was queued")
            job_id = queued[0]
            assert await repo.claim(job_id=job_id, runner="stand-in", lease_seconds=60)
            assert await repo.renew(job_id=job_id, runner="stand-in", lease_seconds=60, progress=50)
            await asyncio.sleep(0.5)
            bucket = stack.settings.results_bucket
            result_key, log_key = f"r/{job_id}/in.annot.vcf.gz", f"r/{job_id}/in.log"
            await s3.put_object(Bucket=bucket, Key=result_key, Body=gzip.compress(ANNOTATED))
            await s3.put_object(Bucket=bucket, Key=log_key, Body=b"1 variant annotated\n")
            assert await repo.complete(
                job_id=job_id,
                runner="stand-in",
                results_bucket=bucket,
                result_key=result_key,
                log_key=log_key,
                summary={"variants": 1},
                provenance=None,
                completed_at=utc_timestamp(),
            )

    asyncio.run(run())


def test_submit_wait_list_show_log_and_download(
    gateway: ServiceProcess, stack: Stack, gateway_database: str, tmp_path: Path
) -> None:
    _, token = provision_user(gateway_database, email="cli@example.org", tier=Tier.FREE)
    env = {"GAS_URL": gateway.url, "GAS_TOKEN": token, "GAS_CONFIG": str(tmp_path / "none.toml")}
    runner = CliRunner()
    sample = tmp_path / "sample.vcf"
    sample.write_bytes(VCF)

    annotator = threading.Thread(target=run_one_job_like_the_annotator, args=(stack,))
    annotator.start()
    submitted = runner.invoke(
        gas, ["submit", str(sample), "--wait", "--poll-seconds", "0.2"], env=env
    )
    annotator.join()
    assert submitted.exit_code == 0, submitted.output
    job_id = submitted.stdout.strip().splitlines()[-1]
    assert "Uploading sample.vcf" in submitted.stderr
    assert f"job {job_id} completed" in submitted.stderr

    listed = runner.invoke(gas, ["jobs"], env=env)
    assert listed.exit_code == 0
    assert job_id in listed.stdout and "COMPLETED" in listed.stdout

    shown = runner.invoke(gas, ["show", job_id], env=env)
    assert '"status": "COMPLETED"' in shown.stdout

    assert runner.invoke(gas, ["log", job_id], env=env).stdout == "1 variant annotated\n"

    downloaded = runner.invoke(gas, ["download", job_id, "-o", str(tmp_path)], env=env)
    assert downloaded.exit_code == 0, downloaded.output
    result = Path(downloaded.stdout.strip().splitlines()[-1])
    assert result.parent == tmp_path
    assert gzip.decompress(result.read_bytes()) == ANNOTATED


def test_errors_say_what_to_do(
    gateway: ServiceProcess, gateway_database: str, tmp_path: Path
) -> None:
    _, token = provision_user(gateway_database, email="big@example.org", tier=Tier.FREE)
    runner = CliRunner()
    big = tmp_path / "big.vcf"
    big.write_bytes(VCF + b"1\t1\t.\tA\tG\t50\tPASS\t.\n" * 8000)
    env = {"GAS_URL": gateway.url, "GAS_TOKEN": token, "GAS_CONFIG": str(tmp_path / "none.toml")}

    too_big = runner.invoke(gas, ["submit", str(big)], env=env)
    assert too_big.exit_code == 1
    assert "Upgrade to premium" in too_big.output

    missing = runner.invoke(gas, ["show", "nope"], env=env)
    assert missing.exit_code == 1 and "no such job" in missing.output

    bad_token = runner.invoke(gas, ["jobs"], env={**env, "GAS_TOKEN": "gas_x_y"})
    assert bad_token.exit_code == 1 and "gas configure" in bad_token.output

    no_token = runner.invoke(gas, ["jobs"], env={**env, "GAS_TOKEN": ""})
    assert no_token.exit_code == 1 and "API token" in no_token.output


def test_submit_shows_the_detected_build_and_refuses_a_wrong_one(
    gateway: ServiceProcess, gateway_database: str, tmp_path: Path
) -> None:
    _, token = provision_user(gateway_database, email="builds@example.org", tier=Tier.FREE)
    env = {"GAS_URL": gateway.url, "GAS_TOKEN": token, "GAS_CONFIG": str(tmp_path / "none.toml")}
    runner = CliRunner()
    real = Path(__file__).resolve().parents[2] / "libs" / "anntools" / "tests" / "data" / "real"

    ncbi36 = runner.invoke(gas, ["submit", str(real / "ncbi36_ex2.vcf")], env=env)
    assert ncbi36.exit_code == 1
    assert "NCBI36/hg18" in ncbi36.output and "liftOver" in ncbi36.output

    exome = str(real / "gatk_hapmap_exome_chr22.vcf")
    detected = runner.invoke(gas, ["submit", exome], env=env)
    assert detected.exit_code == 0, detected.output
    assert "build: GRCh37 detected (##contig 22 length 51304566)" in detected.stderr

    wrong = runner.invoke(gas, ["submit", exome, "--build", "GRCh38"], env=env)
    assert wrong.exit_code == 1
    assert "looks like GRCh37, not GRCh38" in wrong.output and "--force-build" in wrong.output

    forced = runner.invoke(gas, ["submit", exome, "--build", "GRCh38", "--force-build"], env=env)
    assert forced.exit_code == 0, forced.output
    assert "build: GRCh38 as you forced (the file looks like GRCh37" in forced.stderr


def test_configure_saves_a_working_token(
    gateway: ServiceProcess, gateway_database: str, tmp_path: Path
) -> None:
    _, token = provision_user(gateway_database, email="conf@example.org", tier=Tier.PREMIUM)
    runner = CliRunner()
    config_file = tmp_path / "gas" / "config.toml"
    env = {"GAS_CONFIG": str(config_file), "GAS_URL": "", "GAS_TOKEN": ""}
    configured = runner.invoke(gas, ["configure", "--url", gateway.url, "--token", token], env=env)
    assert configured.exit_code == 0, configured.output
    assert "conf@example.org (premium)" in configured.output
    assert config_file.stat().st_mode & 0o077 == 0
    assert runner.invoke(gas, ["jobs"], env=env).exit_code == 0
