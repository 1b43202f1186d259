"""The results viewer's consequence filter offers anntools' terms (`npm run consequence-terms`
in services/web writes them); this test fails when the committed copy falls behind anntools."""

from __future__ import annotations

import importlib.util

from tests.e2e.browser import WEB


def test_the_committed_consequence_terms_are_anntools_terms() -> None:
    spec = importlib.util.spec_from_file_location(
        "web_consequence_terms", WEB / "scripts" / "consequence_terms.py"
    )
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    committed = (WEB / "src" / "viewer" / "consequenceTerms.json").read_text()
    assert committed == script.render(script.terms()), (
        "anntools' consequence terms changed: run `npm run consequence-terms` in services/web "
        "and commit"
    )
