"""Write the rules the web app's pre-upload check uses to tell genome builds apart, taken from
anntools (the annotator's and the jobs service's rules): chromosome lengths per build, the
reference names of each build, the liftover hint. `npm run build-rules` runs this;
tests/e2e/test_generated_from_anntools.py fails when the committed copy falls behind anntools."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src" / "vcf" / "buildRules.json"


def rules() -> dict[str, Any]:
    from anntools.genome import (
        BUILDS,
        CHROMOSOME_LENGTHS,
        LIFTOVER_HINT,
        NCBI36,
        NCBI36_LENGTHS,
        reference_patterns,
    )

    return {
        "source": "generated from libs/anntools/src/anntools/genome.py by scripts/build_rules.py",
        "builds": list(BUILDS),
        "refused": NCBI36,
        "chromosomeLengths": {NCBI36: NCBI36_LENGTHS, **CHROMOSOME_LENGTHS},
        "referencePatterns": reference_patterns(),
        "liftoverHint": LIFTOVER_HINT,
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


def main() -> None:
    OUT.write_text(render(rules()))
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
