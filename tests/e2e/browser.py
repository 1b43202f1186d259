"""Chromium driven by Playwright, on a gateway serving the built web app: the page checks every
browser test makes (a screenshot, axe-core, the console) and the steps they share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Locator, Page, expect, sync_playwright

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
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
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
        # Off the content, and past Bootstrap's 0.15 s colour transitions: a button that
        # appeared under the pointer is otherwise measured halfway between two colours.
        self.page.mouse.move(0, 0)
        self.page.wait_for_timeout(300)
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
        # Keyboard tests check where the focus is: the tab must be the active one, even when a
        # loaded machine makes Chromium treat the headless window as in the background.
        self.page.bring_to_front()
        expect(self.page.get_by_role("navigation", name="Main")).to_be_visible()

    def tab_to(self, target: Locator, *, most: int = 15) -> None:
        """Press Tab until ``target`` has the focus, as a keyboard user would."""
        for _ in range(most):
            if target.evaluate("element => element === document.activeElement"):
                return
            self.page.keyboard.press("Tab")
        expect(target).to_be_focused()


@contextmanager
def browser_on(gateway_url: str) -> Iterator[Pages]:
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
            ours = message.type == "error" and where.startswith(gateway_url)
            if ours and not text.startswith("Failed to load resource"):
                errors.append(f"{text} ({where})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        page.goto(gateway_url)
        try:
            yield Pages(page=page, gateway_url=gateway_url, console_errors=errors)
        finally:
            browser.close()
