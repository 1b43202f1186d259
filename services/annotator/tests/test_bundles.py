"""Production workers fetch prebuilt reference bundles from S3 (here: the moto server) and
cache them; a missing or damaged copy is refused rather than used. Without S3, a missing bundle
is built by the configured bundle builder, and a worker without one says what to do."""

from __future__ import annotations

import asyncio
import logging
import shlex
import sys
from pathlib import Path

import pytest

from anntools import ensure_bundle
from anntools.bundle import BUNDLE_FORMAT_VERSION, MANIFEST, verify_bundle
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
                builder="/no/bundle/builder/here",
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


def build_locally(cache: Path, builder: str) -> Path:
    async def go() -> Path:
        bundles = Bundles(
            s3=None, cache_dir=cache, reference_uri=None, builds=("GRCh37",), builder=builder
        )
        path = await bundles.get("GRCh37")
        await bundles.check()
        return path

    return asyncio.run(go())


def test_without_s3_a_missing_bundle_is_built_by_the_bundle_builder(
    built_bundle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Stands in for `anntools bundle ensure` in the builder's environment (a real build takes
    # a CPU for half a minute): it puts the bundle where it was asked to.
    fake_builder = tmp_path / "builder.py"
    fake_builder.write_text(
        "import os, sys\n"
        "args = sys.argv[1:]\n"
        "assert args[:2] == ['bundle', 'ensure'], args\n"
        "build, cache = args[args.index('--build') + 1], args[args.index('--cache-dir') + 1]\n"
        "print('track gene_model: 790840 rows in 13.7s', flush=True)\n"
        f"os.symlink({str(built_bundle)!r}, os.path.join(cache, build + '-{BUNDLE_FORMAT_VERSION}'))\n"
    )
    cache = tmp_path / "cache"
    cache.mkdir()
    with caplog.at_level(logging.INFO, logger="gas_annotator.bundles"):
        path = build_locally(cache, shlex.join([sys.executable, str(fake_builder)]))
    assert path == cache / built_bundle.name
    assert verify_bundle(path) == []
    assert "bundle builder: track gene_model: 790840 rows in 13.7s" in caplog.text


@pytest.mark.parametrize(
    "builder",
    [
        "/no/such/uv run --project tools/bundle-builder anntools",
        "uv run --frozen --project /no/such/bundle-builder anntools",
    ],
)
def test_without_s3_or_a_bundle_builder_the_worker_says_what_to_do(
    builder: str, tmp_path: Path
) -> None:
    with pytest.raises(BundleUnavailable) as refused:
        build_locally(tmp_path, builder)
    message = str(refused.value)
    assert f"the GRCh37 reference bundle is not in {tmp_path}" in message
    assert "make bundles" in message and "GAS_ANNOTATOR_BUNDLE_BUILDER" in message
    assert "GAS_ANNOTATOR_REFERENCE_URI" in message
    assert not (tmp_path / f"GRCh37-{BUNDLE_FORMAT_VERSION}").exists()
