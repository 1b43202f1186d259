"""Write the Sequence Ontology terms the results viewer filters by, taken from anntools (the
terms the annotator writes as MOST_SEVERE_CSQ and the jobs API accepts as `consequence`), in
VEP's order of severity with VEP's IMPACT. `npm run consequence-terms` runs this;
tests/e2e/test_generated_from_anntools.py fails when the committed copy falls behind anntools."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src" / "viewer" / "consequenceTerms.json"


def terms() -> dict[str, Any]:
    from anntools.consequences import TERMS

    return {
        "source": "generated from libs/anntools/src/anntools/consequences.py "
        "by scripts/consequence_terms.py",
        "terms": [{"term": term, "impact": impact} for term, impact in TERMS],
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


def main() -> None:
    OUT.write_text(render(terms()))
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
