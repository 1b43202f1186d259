"""The web app keeps copies of anntools' rules as generated JSON: the pre-upload build check's
rules (`npm run build-rules`) and the results viewer's consequence terms
(`npm run consequence-terms`). This test fails when a committed copy falls behind anntools."""

from __future__ import annotations

import importlib.util

import pytest

from tests.e2e.browser import WEB

# (script in services/web/scripts, its function, the committed JSON, the npm command, what)
GENERATED = [
    ("build_rules", "rules", "src/vcf/buildRules.json", "build-rules", "build rules"),
    (
        "consequence_terms",
        "terms",
        "src/viewer/consequenceTerms.json",
        "consequence-terms",
        "consequence terms",
    ),
]


@pytest.mark.parametrize(
    ("script_name", "function", "json_path", "command", "what"),
    GENERATED,
    ids=[entry[0] for entry in GENERATED],
)
def test_the_committed_copy_is_what_anntools_says_now(
    script_name: str, function: str, json_path: str, command: str, what: str
) -> None:
    spec = importlib.util.spec_from_file_location(
        f"web_{script_name}", WEB / "scripts" / f"{script_name}.py"
    )
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    committed = (WEB / json_path).read_text()
    assert committed == script.render(getattr(script, function)()), (
        f"anntools' {what} changed: run `npm run {command}` in services/web and commit"
    )
