"""The bundle hook Job really gates an upgrade: its rendered command, in the annotator's
environment, fetches the reference bundle from S3 (moto) and verifies it, and fails when a file
of the bundle is missing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from k8s_chart import CHART, Manifest, containers, environment, rendered

from anntools.bundle import MANIFEST, bundle_dir_for
from gas_testing.localstack import MotoServer

BUILD = "GRCh37"


@pytest.fixture(scope="module")
def hook() -> Manifest:
    manifests = rendered(CHART / "ci" / "eks-production-values.yaml")
    (container,) = [
        c for job, c in containers(manifests) if job["metadata"]["name"] == "gas-bundles"
    ]
    return container


@pytest.fixture(scope="module")
def published(moto: MotoServer, hook: Manifest) -> Iterator[tuple[object, str, str]]:
    source = bundle_dir_for(BUILD)
    if not (source / MANIFEST).exists():
        pytest.skip(f"no {BUILD} reference bundle in {source.parent}: run `make bundles`")
    uri = environment(hook)["GAS_ANNOTATOR_REFERENCE_URI"]
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    s3 = boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=bucket)
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        s3.upload_file(str(path), bucket, f"{prefix}/{source.name}/{path.relative_to(source)}")
    yield s3, bucket, f"{prefix}/{source.name}"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    for key in keys:
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)


def run_hook(hook: Manifest, moto: MotoServer, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **environment(hook),
        "GAS_AWS_ENDPOINT_URL": moto.url,
        "GAS_AWS_S3_PATH_STYLE": "true",
        "GAS_AWS_ACCESS_KEY_ID": "testing",
        "GAS_AWS_SECRET_ACCESS_KEY": "testing",
        "GAS_ANNOTATOR_BUNDLE_BUILDS": f'["{BUILD}"]',
        "GAS_ANNOTATOR_BUNDLE_CACHE_DIR": str(tmp_path / "bundles"),
        "GAS_ANNOTATOR_WORK_DIR": str(tmp_path / "work"),
    }
    assert hook["command"][0] == "python3"
    return subprocess.run(
        [sys.executable, *hook["command"][1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_the_bundle_hook_fetches_and_verifies(
    hook: Manifest, published: tuple[object, str, str], moto: MotoServer, tmp_path: Path
) -> None:
    result = run_hook(hook, moto, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"reference bundle verified: {BUILD}" in result.stdout
    assert (tmp_path / "bundles" / bundle_dir_for(BUILD).name / MANIFEST).exists()


@pytest.mark.slow
def test_the_bundle_hook_fails_on_a_damaged_bundle(
    hook: Manifest, published: tuple[object, str, str], moto: MotoServer, tmp_path: Path
) -> None:
    s3, bucket, prefix = published
    victim = next(
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]  # type: ignore[attr-defined]
        if not o["Key"].endswith(MANIFEST)
    )
    kept = s3.get_object(Bucket=bucket, Key=victim)["Body"].read()  # type: ignore[attr-defined]
    s3.delete_object(Bucket=bucket, Key=victim)  # type: ignore[attr-defined]
    try:
        result = run_hook(hook, moto, tmp_path)
    finally:
        s3.put_object(Bucket=bucket, Key=victim, Body=kept)  # type: ignore[attr-defined]
    assert result.returncode != 0
    assert "reference bundle verified" not in result.stdout
    assert victim.rsplit("/", 1)[-1] in result.stderr
