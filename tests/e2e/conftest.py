"""Browser tests: Debian's Chromium, driven by Playwright, against the gateway serving the built
web app, with the dev IdP, the jobs service and an annotator as real processes.

Every fixture this folder takes from elsewhere is imported here, in one place."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Locator, Page, expect, sync_playwright

from gas_core.aws import aws_clients
from gas_core.infra import infra_up
from gas_testing.data import known_snps
from gas_testing.gateway import DevIdp, start_gateway
from gas_testing.plugin import ServiceProcess, Stack, StartService

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "services" / "web"
ARTEFACTS = ROOT / "test-artefacts" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS_VIOLATIONS = """async () => {
  const result = await axe.run(document, { resultTypes: ['violations'] })
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}"""


@dataclass
class Pages:
    """One browser tab on the gateway, with what the tests check on every page."""

    page: Page
    gateway_url: str
    console_errors: list[str]

    def check(self, name: str, *, settle: bool = True) -> None:
        """Screenshot the page for people to look at, and hold it to axe-core and the CSP.
        ``settle=False`` for a page that is busy on purpose (an upload in flight)."""
        if settle:
            self.page.wait_for_load_state("networkidle")
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=ARTEFACTS / f"{name}.png", full_page=True)
        violations = self.page.evaluate(SERIOUS_VIOLATIONS)
        assert violations == [], f"{name}: accessibility violations:\n" + "\n".join(violations)
        assert self.console_errors == [], f"{name}: errors in the console: {self.console_errors}"

    def sign_in(self, login: str, password: str) -> None:
        """From the app's sign-in link through the IdP's form, back to the app."""
        self.page.get_by_role("link", name="Sign in").click()
        self.page.get_by_label("Login").fill(login)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{self.gateway_url}/**")
        expect(self.page.get_by_role("navigation", name="Main")).to_be_visible()

    def tab_to(self, target: Locator, *, most: int = 15) -> None:
        """Press Tab until ``target`` has the focus, as a keyboard user would."""
        for _ in range(most):
            if target.evaluate("element => element === document.activeElement"):
                return
            self.page.keyboard.press("Tab")
        expect(target).to_be_focused()


@contextmanager
def browser_on(gateway: ServiceProcess) -> Iterator[Pages]:
    """Chromium on the gateway's front page. Started after the stack (and stopped before it):
    Playwright's sync API runs an event loop that the async fixtures must not see."""
    if not CHROMIUM.exists():
        pytest.skip("the browser tests need Debian's chromium (make bootstrap installs it)")
    if not (WEB / "dist" / "index.html").exists() or not AXE.exists():
        pytest.skip(
            "the browser tests need the built web app: npm ci && npm run build in services/web"
        )
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        context.add_init_script(path=AXE)  # through the DevTools protocol: the page's CSP holds
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            # Uncaught errors and CSP refusals on the app's pages (not the IdP's). An API answer
            # of 4xx is logged as "Failed to load resource" too; the page shows those itself.
            where = message.location.get("url", "")
            text = message.text
            ours = message.type == "error" and where.startswith(gateway.url)
            if ours and not text.startswith("Failed to load resource"):
                errors.append(f"{text} ({where})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        page.goto(gateway.url)
        try:
            yield Pages(page=page, gateway_url=gateway.url, console_errors=errors)
        finally:
            browser.close()


@pytest.fixture(scope="session")
def bundle_cache() -> Path:
    from anntools import ensure_bundle

    return ensure_bundle("GRCh37").parent


@pytest.fixture
def web_stack(
    stack: Stack,
    start_service: StartService,
    dev_idp: DevIdp,
    gateway_database: str,
    bundle_cache: Path,
) -> ServiceProcess:
    """The gateway serving the app, a jobs service and one annotator; returns the gateway."""
    jobs = start_service("jobs", stack)
    start_service(
        "annotator",
        stack,
        GAS_ANNOTATOR_BUNDLE_CACHE_DIR=str(bundle_cache),
        GAS_ANNOTATOR_BUNDLE_BUILDS=json.dumps(["GRCh37"]),
        GAS_ANNOTATOR_RECEIVE_WAIT_SECONDS="1",
    )
    gateway = start_gateway(
        start_service, stack, idp=dev_idp, database_url=gateway_database, jobs_url=jobs.url
    )
    allow_uploads_from(stack, gateway.url)
    return gateway


def allow_uploads_from(stack: Stack, origin: str) -> None:
    """The inputs bucket's CORS rule for this gateway's port (Chromium preflights the upload)."""

    async def update() -> None:
        async with aws_clients(stack.aws) as clients:
            await infra_up(clients, stack.settings, cors_origins=(origin,))

    asyncio.run(update())


@pytest.fixture
def web_app(web_stack: ServiceProcess) -> Iterator[Pages]:
    with browser_on(web_stack) as pages:
        yield pages


@pytest.fixture
def accounts_stack(
    stack: Stack, start_service: StartService, dev_idp: DevIdp, gateway_database: str
) -> ServiceProcess:
    """The gateway serving the app, with a jobs service but no annotator."""
    jobs = start_service("jobs", stack)
    gateway = start_gateway(
        start_service, stack, idp=dev_idp, database_url=gateway_database, jobs_url=jobs.url
    )
    allow_uploads_from(stack, gateway.url)
    return gateway


@pytest.fixture
def accounts_app(accounts_stack: ServiceProcess) -> Iterator[Pages]:
    with browser_on(accounts_stack) as pages:
        yield pages


@pytest.fixture(scope="session")
def known_snps_vcf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small, real GRCh37 VCF: known SNPs from the bundle's dbSNP track, so the summary
    has dbSNP hits."""
    lines = [
        f"{snp.chrom}\t{snp.pos}\t.\t{snp.ref}\t{snp.alt}\t50\tPASS\t.\tGT\t0/1\n"
        for snp in known_snps("GRCh37")[:300]
    ]
    path = tmp_path_factory.mktemp("vcf") / "known-snps.vcf"
    path.write_text(
        "##fileformat=VCFv4.2\n##reference=GRCh37\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNA12878\n" + "".join(lines)
    )
    return path
