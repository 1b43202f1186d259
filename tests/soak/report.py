"""Each scenario's figures: a short table on the terminal (so CI logs show it) and a JSON file
in test-artefacts/soak/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "test-artefacts" / "soak"
CORPUS = ROOT / "libs" / "anntools" / "tests" / "data"
CORPUS_TEST = "tests/integration/test_hostile_inputs.py"


@dataclass(frozen=True)
class Figures:
    scenario: str
    title: str
    rows: list[tuple[str, str]]

    def table(self) -> str:
        width = max(len(name) for name, _ in self.rows)
        lines = [f"{self.scenario}: {self.title}"]
        lines += [f"  {name:<{width}}  {value}" for name, value in self.rows]
        return "\n".join(lines)


REPORTED: list[Figures] = []


def record(scenario: str, title: str, figures: dict[str, Any]) -> Figures:
    """Keep ``figures`` for the summary and write them to test-artefacts/soak/<scenario>.json.
    Called before a scenario's assertions, so a failing run still shows what it measured."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / f"{scenario}.json").write_text(
        json.dumps({"scenario": scenario, "title": title, **figures}, indent=2, default=str) + "\n"
    )
    shown = Figures(scenario, title, [(name, show(value)) for name, value in figures.items()])
    REPORTED[:] = [f for f in REPORTED if f.scenario != scenario] + [shown]
    return shown


def show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {show(item)}" for key, item in value.items()) or "none"
    return str(value)


def corpus_line() -> str:
    files = sum(1 for path in CORPUS.iterdir() if path.is_file()) if CORPUS.is_dir() else 0
    return (
        f"hostile inputs: {files} files in {CORPUS.relative_to(ROOT)}, each with its expected "
        f"outcome, run by {CORPUS_TEST} in `make test` (not repeated here)"
    )


def summary() -> str:
    parts = [figures.table() for figures in REPORTED] + [corpus_line()]
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / "summary.txt").write_text("\n\n".join(parts) + "\n")
    return "\n\n".join(parts)
