"""The web app's pre-upload build check uses anntools' rules (`npm run build-rules` in
services/web writes them); this test fails when the committed copy falls behind anntools."""

from __future__ import annotations

import importlib.util

from tests.e2e.browser import WEB


def test_the_committed_build_rules_are_anntools_rules() -> None:
    spec = importlib.util.spec_from_file_location(
        "web_build_rules", WEB / "scripts" / "build_rules.py"
    )
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    committed = (WEB / "src" / "vcf" / "buildRules.json").read_text()
    assert committed == script.render(script.rules()), (
        "anntools' build rules changed: run `npm run build-rules` in services/web and commit"
    )
