"""Production workers fetch prebuilt reference bundles from S3 (here: the moto server) and
cache them; a missing or damaged copy is refused rather than used."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from anntools import ensure_bundle
from anntools.bundle import MANIFEST, verify_bundle
from gas_annotator.bundles import Bundles, BundleUnavailable
from gas_core.aws import aws_clients
from gas_testing.plugin import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built_bundle() -> Path:
    return ensure_bundle("GRCh37")


def bundle_files(bundle: Path) -> list[str]:
    return sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())


def reference_bucket(stack: Stack) -> str:
    return stack.settings.name("reference")


def publish(stack: Stack, bundle: Path, prefix: str, *, corrupt: str | None = None) -> None:
    """Put a bundle where production workers find it (optionally with one file damaged)."""
    bodies = {
        name: b"damaged" if name == corrupt else (bundle / name).read_bytes()
        for name in bundle_files(bundle)
    }

    async def upload() -> None:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            await s3.create_bucket(Bucket=reference_bucket(stack))
            for name, body in bodies.items():
                await s3.put_object(
                    Bucket=reference_bucket(stack), Key=f"{prefix}/{bundle.name}/{name}", Body=body
                )

    asyncio.run(upload())


def fetch(stack: Stack, cache: Path, prefix: str) -> Path:
    async def go() -> Path:
        async with aws_clients(stack.aws) as clients:
            bundles = Bundles(
                s3=await clients.client("s3"),
                cache_dir=cache,
                reference_uri=f"s3://{reference_bucket(stack)}/{prefix}",
                builds=("GRCh37",),
            )
            path = await bundles.get("GRCh37")
            await bundles.check()
            return path

    return asyncio.run(go())


def test_a_bundle_is_fetched_once_verified_and_then_served_from_the_cache(
    stack: Stack, built_bundle: Path, tmp_path: Path
) -> None:
    publish(stack, built_bundle, "reference/v1")
    fetched = fetch(stack, tmp_path, "reference/v1")
    assert fetched == tmp_path / built_bundle.name
    assert verify_bundle(fetched) == []
    assert (fetched / MANIFEST).read_bytes() == (built_bundle / MANIFEST).read_bytes()

    assert fetch(stack, tmp_path, "nothing-there") == fetched  # cached: S3 is not asked again


def test_a_missing_or_damaged_bundle_is_refused_and_leaves_nothing_behind(
    stack: Stack, built_bundle: Path, tmp_path: Path
) -> None:
    victim = next(name for name in bundle_files(built_bundle) if name.endswith(".npy"))
    publish(stack, built_bundle, "reference/bad", corrupt=victim)
    with pytest.raises(BundleUnavailable, match="does not match its manifest"):
        fetch(stack, tmp_path, "reference/bad")
    with pytest.raises(BundleUnavailable, match="holds no bundle"):
        fetch(stack, tmp_path, "nothing-there")
    assert list(tmp_path.iterdir()) == []
