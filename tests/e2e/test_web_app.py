"""A researcher uses GAS in the browser: sign in, check a file, submit it, watch it run, download
the result, upgrade, make an API token. Screenshots land in test-artefacts/e2e/."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.browser import ARTEFACTS, Pages

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

# A real bgzipped VCF (1000 Genomes, chr22) from r-bioc-variantannotation: over the free limit.
CHR22 = Path("/usr/lib/R/site-library/VariantAnnotation/extdata/chr22.vcf.gz")


def drop_file(page: Page, path: Path) -> None:
    """Drag a file from the desktop onto the drop zone, as a person would."""
    data_transfer = page.evaluate_handle(
        """([name, text]) => {
            const transfer = new DataTransfer()
            transfer.items.add(new File([text], name, { type: 'text/plain' }))
            return transfer
        }""",
        [path.name, path.read_text()],
    )
    page.get_by_test_id("drop-zone").dispatch_event("drop", {"dataTransfer": data_transfer})


def vcf_records(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def info_of(record: str) -> dict[str, str]:
    """The INFO column of a VCF record, read independently of GAS's own code."""
    fields = record.split("\t")[7]
    return dict(item.partition("=")[::2] for item in fields.split(";") if item != ".")


def genes_of(record: str) -> list[str]:
    return [gene for gene in info_of(record).get("GENE", "").split(",") if gene]


def download(page: Page, click: Callable[[], None]) -> str:
    with page.expect_download() as download_info:
        click()
    return Path(download_info.value.path()).read_text()


def check_the_viewer(pages: Pages, annotated: str) -> None:
    """Filter the result by a gene, by region classes and by most severe consequence in the
    viewer, and export what is shown: the exports hold exactly the records the same filter picks
    from the full VCF."""
    page = pages.page
    records = vcf_records(annotated)
    count = page.get_by_test_id("match-count")
    expect(count).to_contain_text(f"{len(records)} variants match; rows 1\u201350 shown")
    page.get_by_role("button", name="Next page").click()
    expect(count).to_contain_text("rows 51\u2013100 shown")
    assert "page=2" in page.url

    gene, _ = Counter(gene for record in records for gene in genes_of(record)).most_common(1)[0]
    in_gene = [record for record in records if gene in genes_of(record)]
    gene_box = page.get_by_label("Gene", exact=True)
    gene_box.fill(gene.lower())  # any case
    gene_box.press("Enter")
    expect(count).to_contain_text(f"{len(in_gene)} variants match these filters")
    assert f"gene={gene.lower()}" in page.url and "page=" not in page.url
    exported = download(
        page,
        page.get_by_role("link", name="Download the matching variants as VCF").click,
    )
    assert exported.startswith("##fileformat=VCF")
    assert vcf_records(exported) == in_gene

    page.get_by_role("button", name="Clear filters").click()
    expect(count).to_contain_text(f"{len(records)} variants match;")
    classes = {"CDS": "Coding (CDS)", "UTR3": "3' UTR"}
    for label in classes.values():
        page.get_by_label(label).check()
    page.get_by_role("button", name="Apply filters").click()
    in_classes = [record for record in records if info_of(record).get("REGION") in classes]
    assert in_classes, "the test VCF should have coding and 3' UTR variants"
    expect(count).to_contain_text(f"{len(in_classes)} variants match these filters")
    # A shared link opens the same view.
    page.goto(page.url)
    expect(count).to_contain_text(f"{len(in_classes)} variants match these filters")
    expect(page.get_by_label("Coding (CDS)")).to_be_checked()
    page.get_by_role("button", name=re.compile("^Gene")).click()
    expect(page.get_by_role("columnheader", name=re.compile("^Gene"))).to_have_attribute(
        "aria-sort", "ascending"
    )
    pages.check("viewer-filtered")

    key = ["chrom", "pos", "id", "ref", "alt"]
    expected = sorted(tuple(record.split("\t")[:5]) for record in in_classes)
    tsv = download(
        page, page.get_by_role("link", name="Download the matching variants as TSV").click
    )
    rows = list(csv.DictReader(io.StringIO(tsv), delimiter="\t"))
    assert sorted(tuple(row[name] for name in key) for row in rows) == expected
    genes = [row["gene"] for row in rows if row["gene"] != "."]
    assert genes == sorted(genes)  # in the order shown
    # Keyboard only: Tab to the JSON export and press Enter.
    json_link = page.get_by_role("link", name="Download the matching variants as JSON")
    pages.tab_to(json_link, most=40)
    exported_json = json.loads(download(page, lambda: page.keyboard.press("Enter")))
    assert sorted(tuple(str(row[name]) for name in key) for row in exported_json) == expected

    check_the_consequence_filter(pages, records)


def check_the_consequence_filter(pages: Pages, records: list[str]) -> None:
    """Keep one most severe consequence: every row shown and every exported record has it."""
    page = pages.page
    count = page.get_by_test_id("match-count")
    page.get_by_role("button", name="Clear filters").click()
    expect(count).to_contain_text(f"{len(records)} variants match;")
    consequences = Counter(info_of(record).get("MOST_SEVERE_CSQ") for record in records)
    # The commonest consequence that still narrows the view and fits on one page.
    term = next(
        (name for name, n in consequences.most_common() if name and n < min(50, len(records))),
        None,
    )
    assert term, f"the test VCF should have a consequence on 1 to 49 variants: {consequences}"
    with_term = [record for record in records if info_of(record).get("MOST_SEVERE_CSQ") == term]

    page.get_by_label(term, exact=True).check()
    page.get_by_role("button", name="Apply filters").click()
    expect(count).to_contain_text(
        f"{len(with_term)} {'variant matches' if len(with_term) == 1 else 'variants match'} "
        "these filters"
    )
    assert f"consequence={term}" in page.url
    headers = page.get_by_role("columnheader").all_inner_texts()
    column = headers.index("Most severe consequence")
    shown = [
        row.get_by_role("cell").nth(column).inner_text()
        for row in page.get_by_role("row").all()[1:]
    ]
    assert shown == [term] * len(with_term)
    pages.check("viewer-consequence")

    exported = download(
        page, page.get_by_role("link", name="Download the matching variants as VCF").click
    )
    assert exported.startswith("##fileformat=VCF")
    assert vcf_records(exported) == with_term
    assert {info_of(record)["MOST_SEVERE_CSQ"] for record in vcf_records(exported)} == {term}


def test_a_free_user_annotates_a_vcf_and_downloads_the_result(
    web_app: Pages, known_snps_vcf: Path
) -> None:
    pages, url = web_app, web_app.gateway_url
    page = pages.page
    expect(
        page.get_by_role("heading", name="Annotate your variants, in the browser")
    ).to_be_visible()
    pages.check("signed-out")

    pages.sign_in("free", "free")
    expect(page).to_have_url(f"{url}/jobs")
    expect(page.get_by_role("heading", name="No jobs yet")).to_be_visible()
    pages.check("jobs-empty")

    page.get_by_role("link", name="Annotate a VCF").first.click()
    if CHR22.exists():
        page.get_by_label("VCF file").set_input_files(CHR22)
        offer = page.get_by_role("alert").filter(has_text="too large for the free tier")
        expect(offer).to_contain_text("548.3 KiB")
        expect(
            offer.get_by_role("link", name="Upgrade to premium for files of any size")
        ).to_be_visible()
        # Read in the browser across its bgzip blocks: the three 1000 Genomes samples.
        expect(page.get_by_role("region", name=CHR22.name)).to_contain_text(
            "HG00096, HG00097, HG00099"
        )
        expect(page.get_by_role("button", name="Upload and annotate")).to_be_disabled()
        pages.check("submit-too-large")

    drop_file(page, known_snps_vcf)
    overview = page.get_by_role("region", name=known_snps_vcf.name)
    expect(overview).to_contain_text("NA12878")
    expect(overview).to_contain_text("GRCh37")
    expect(overview).to_contain_text("300")
    pages.check("submit-checked")
    streams: list[int] = []
    page.on(
        "response",
        lambda response: (
            streams.append(response.status) if response.url.endswith("/events") else None
        ),
    )
    page.get_by_role("button", name="Upload and annotate").click()

    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f]{32}$"))
    job_url = page.url
    # No reload from here on: the page follows the job by itself.
    download_button = page.get_by_role("button", name="Download the annotated VCF")
    expect(download_button).to_be_visible(timeout=120_000)
    expect(page.get_by_role("heading", name="Summary")).to_be_visible()
    expect(page.get_by_text("variants are in dbSNP")).to_contain_text("of 300 variants")
    expect(page.get_by_role("heading", name="Provenance")).to_be_visible()
    # What the jobs service found about the build at submit (issue 12).
    expect(page.get_by_role("region", name="Provenance")).to_contain_text(
        "Genome build: the file looks like GRCh37"
    )
    expect(page.get_by_text("Free results can be downloaded until")).to_be_visible()
    pages.check("job-completed")

    with page.expect_download() as download_info:
        download_button.click()
    annotated = gzip.decompress(Path(download_info.value.path()).read_bytes()).decode()
    assert "##INFO=<ID=" in annotated
    assert re.search(r"\trs\d+\t", annotated), "no dbSNP id in the downloaded VCF"
    assert len([line for line in annotated.splitlines() if not line.startswith("#")]) == 300
    assert 200 in streams, "the job page did not follow the job's event stream"

    page.get_by_role("link", name="View and filter the variants").click()
    expect(page.get_by_role("heading", name=f"Variants of {known_snps_vcf.name}")).to_be_visible()
    check_the_viewer(pages, annotated)

    page.goto(f"{url}/jobs")
    row = page.get_by_role("row").filter(has_text=known_snps_vcf.name)
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("archives at")
    pages.check("jobs-list")
    assert page.get_by_role("link", name=known_snps_vcf.name).get_attribute("href") == (
        job_url.removeprefix(url)
    )


def test_account_upgrade_tokens_and_sign_out(accounts_app: Pages) -> None:
    pages, url = accounts_app, accounts_app.gateway_url
    page = pages.page
    # A link from a mail or a bookmark, signed out: the app asks to sign in, then opens it.
    page.goto(f"{url}/account")
    expect(page.get_by_text("Sign in to open this page.")).to_be_visible()
    pages.sign_in("free", "free")
    expect(page).to_have_url(f"{url}/account")
    expect(page.get_by_test_id("tier")).to_have_text("Free")

    page.get_by_label("Card number").fill("4000 0000 0000 0002")
    page.get_by_role("button", name="Upgrade").click()
    expect(page.get_by_role("alert")).to_contain_text("The card was declined; use another card.")
    pages.check("account-declined")

    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Upgrade").click()
    expect(page.get_by_test_id("tier")).to_contain_text("Premium")
    expect(page.get_by_role("heading", name="Upgrade to premium")).to_have_count(0)

    page.get_by_label("Token name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("New token").inner_text().strip()
    scheme, prefix, _ = secret.split("_", 2)
    expect(page.get_by_role("row").filter(has_text="laptop")).to_contain_text(f"{scheme}_{prefix}_")
    pages.check("account-premium-token")
    me = httpx.get(f"{url}/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["tier"] == "premium"

    page.get_by_role("button", name="Revoke token laptop").click()
    expect(page.get_by_role("row").filter(has_text="laptop")).to_contain_text("Revoked")
    gone = httpx.get(f"{url}/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401

    page.get_by_role("button", name="Sign out").click()
    # The window goes on to the identity provider's sign-out; the gateway's session is gone.
    page.wait_for_url(lambda address: not address.startswith(url))
    page.wait_for_load_state("networkidle")
    assert page.request.get(f"{url}/api/me").status == 401
    page.goto(f"{url}/jobs")
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()


def test_submitting_works_with_the_keyboard_alone(
    accounts_app: Pages, known_snps_vcf: Path
) -> None:
    pages = accounts_app
    page = pages.page
    pages.sign_in("free", "free")
    submit_link = page.get_by_role("link", name="Annotate a VCF").first
    pages.tab_to(submit_link)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Annotate a VCF")).to_be_visible()

    file_input = page.get_by_label("VCF file")
    pages.tab_to(file_input)
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(known_snps_vcf)
    expect(page.get_by_role("region", name=known_snps_vcf.name)).to_contain_text("GRCh37")

    page.keyboard.press("Tab")  # the build
    expect(page.get_by_label("Genome build")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Upload and annotate")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f]{32}$"))
    expect(page.get_by_role("status")).to_contain_text("position 1 in the queue")
    pages.check("job-queued")


def test_the_api_docs_work_without_the_internet(accounts_app: Pages) -> None:
    page, url = accounts_app.page, accounts_app.gateway_url
    outside: list[str] = []

    def only_the_gateway(route: Route) -> None:
        if route.request.url.startswith(url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_gateway)
    page.goto(f"{url}/api/docs")
    expect(page.get_by_role("heading", name=re.compile("^GAS"))).to_be_visible()
    expect(page.get_by_text("/api/me/upgrade")).to_be_visible()
    page.screenshot(path=ARTEFACTS / "api-docs.png", full_page=True)
    assert outside == []


def test_an_upload_shows_its_progress_and_can_be_cancelled(
    accounts_app: Pages, known_snps_vcf: Path, tmp_path: Path
) -> None:
    pages, page = accounts_app, accounts_app.page
    pages.sign_in("free", "free")
    page.get_by_role("link", name="Annotate a VCF").first.click()
    header, body = known_snps_vcf.read_text().split("#CHROM", 1)
    columns, rows = body.split("\n", 1)
    slow = tmp_path / "slow.vcf"
    slow.write_text(header + "#CHROM" + columns + "\n" + rows * 12)  # ~115 KiB, under the limit
    page.get_by_label("VCF file").set_input_files(slow)
    # A slow uplink (20 KB/s) so the upload takes seconds.
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 20_000},
    )
    page.get_by_role("button", name="Upload and annotate").click()
    progress = page.get_by_role("progressbar", name="Upload progress")
    expect(progress).to_be_visible()
    expect(progress).not_to_have_attribute("aria-valuenow", "0", timeout=10_000)
    pages.check("submit-uploading", settle=False)
    # The focus waits on Cancel, so a keyboard user cancels with Enter, and comes back to Upload.
    expect(page.get_by_role("button", name="Cancel upload")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Upload cancelled. Nothing was submitted")
    expect(page.get_by_role("button", name="Upload and annotate")).to_be_focused()
    assert "/submit" in page.url


REAL_VCFS = Path(__file__).resolve().parents[2] / "libs" / "anntools" / "tests" / "data" / "real"


def test_the_submit_page_refuses_a_wrong_build_before_uploading(accounts_app: Pages) -> None:
    """Issue 12, in the browser: an NCBI36 file is refused with the liftover hint before any
    upload, and a chosen build the file's header contradicts needs an explicit override."""
    pages, page = accounts_app, accounts_app.page
    created: list[str] = []  # job creations (an upload starts with one)
    page.on(
        "request",
        lambda request: (
            created.append(request.url)
            if request.method == "POST" and "/api/jobs" in request.url
            else None
        ),
    )
    pages.sign_in("free", "free")
    page.get_by_role("link", name="Annotate a VCF").first.click()

    page.get_by_label("VCF file").set_input_files(REAL_VCFS / "ncbi36_ex2.vcf")
    overview = page.get_by_role("region", name="ncbi36_ex2.vcf")
    refusal = overview.get_by_role("alert")
    expect(refusal).to_contain_text("This file is NCBI36/hg18 (##contig 20 length 62435964)")
    expect(refusal).to_contain_text("lift the file over first")
    expect(overview).to_contain_text("NCBI36 — ##contig 20 length 62435964")
    upload = page.get_by_role("button", name="Upload and annotate")
    expect(upload).to_be_disabled()
    pages.check("submit-ncbi36-refused")

    page.get_by_label("VCF file").set_input_files(REAL_VCFS / "gatk_hapmap_exome_chr22.vcf")
    expect(page.get_by_role("region", name="gatk_hapmap_exome_chr22.vcf")).to_contain_text(
        "GRCh37 — ##contig 22 length 51304566"
    )
    expect(upload).to_be_enabled()
    page.get_by_label("Genome build").select_option("GRCh38")
    expect(page.get_by_role("alert").filter(has_text="looks like GRCh37")).to_be_visible()
    expect(upload).to_be_disabled()
    pages.check("submit-build-contradicted")
    page.get_by_label("I am sure: annotate as GRCh38 anyway").check()
    expect(upload).to_be_enabled()
    assert created == []
