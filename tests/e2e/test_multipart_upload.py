"""A premium researcher uploads a big file from the browser: it goes in parts, can be paused
and resumed, and survives a page reload (the same file continues where it stopped)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from gas_testing.data import known_snps
from gas_testing.gateway import DevIdp, start_gateway
from gas_testing.plugin import ServiceProcess, Stack, StartService
from tests.e2e.browser import Pages, browser_on
from tests.e2e.conftest import allow_uploads_from

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

MiB = 1024**2


@pytest.fixture
def parts_app(
    stack: Stack, start_service: StartService, dev_idp: DevIdp, gateway_database: str
) -> Iterator[Pages]:
    """The app with uploads over 1 MiB in parts of 5 MiB (S3's smallest)."""
    jobs = start_service(
        "jobs",
        stack,
        GAS_JOBS_MULTIPART_THRESHOLD_BYTES=str(MiB),
        GAS_JOBS_MULTIPART_PART_BYTES=str(5 * MiB),
    )
    gateway: ServiceProcess = start_gateway(
        start_service, stack, idp=dev_idp, database_url=gateway_database, jobs_url=jobs.url
    )
    allow_uploads_from(stack, gateway.url)
    with browser_on(gateway.url) as pages:
        yield pages


def test_a_big_upload_pauses_resumes_and_survives_a_reload(
    parts_app: Pages, tmp_path: Path
) -> None:
    pages, page = parts_app, parts_app.page
    big = tmp_path / "big.vcf"
    lines = [f"{s.chrom}\t{s.pos}\t.\t{s.ref}\t{s.alt}\t50\tPASS\t.\n" for s in known_snps()[:2000]]
    header = (
        "##fileformat=VCFv4.2\n##reference=GRCh37\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )
    big.write_text(header + "".join(lines) * 200)  # about 12 MiB: three parts
    pages.sign_in("premium", "premium")
    page.goto(f"{pages.gateway_url}/account")  # a new account is free until upgraded
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Upgrade").click()
    expect(page.get_by_test_id("tier")).to_contain_text("Premium")
    page.get_by_role("link", name="Annotate a VCF").first.click()
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 2 * MiB},
    )

    page.get_by_label("VCF file").set_input_files(big)
    page.get_by_role("button", name="Upload and annotate").click()
    expect(page.get_by_text(re.compile(r"Uploading big\.vcf \(1 of 3 parts\)"))).to_be_visible(
        timeout=30_000
    )
    page.get_by_role("button", name="Pause upload").click()
    expect(page.get_by_text(re.compile(r"Paused big\.vcf"))).to_be_visible(timeout=30_000)
    pages.check("submit-paused", settle=False)

    page.reload()  # as if the tab were closed: the browser kept the upload's state
    expect(page.get_by_role("status")).to_contain_text("An upload was interrupted (big.vcf)")
    page.get_by_label("VCF file").set_input_files(big)
    page.get_by_role("button", name="Upload and annotate").click()
    expect(page.get_by_text(re.compile(r"\((1|2) of 3 parts\)"))).to_be_visible(timeout=30_000)
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f]{32}$"), timeout=60_000)
    expect(page.get_by_text("Input file checksum")).to_be_visible()
    pages.check("job-uploaded-in-parts", settle=False)
