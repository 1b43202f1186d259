"""What the mails say: one subject, a plain-text and an HTML body per kind of event."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str


NEW_PARAGRAPH = "\n\n"
FREE_WINDOW_NOTE = (
    "Free accounts can download results for a limited time after completion; "
    "after that they move to cold storage until you upgrade to premium."
)


def _greeting(name: str) -> str:
    return f"Hello {name}," if name.strip() else "Hello,"


def job_link(public_url: str, job_id: str) -> str:
    return f"{public_url.rstrip('/')}/jobs/{job_id}"


def completed(
    *, name: str, job_id: str, filename: str, summary: dict[str, Any], link: str, free: bool
) -> Mail:
    facts = _summary_facts(summary)
    text_facts = "".join(f"  - {label}: {value}\n" for label, value in facts)
    html_facts = "".join(
        f"<li>{escape(label)}: <strong>{escape(value)}</strong></li>" for label, value in facts
    )
    free_note = FREE_WINDOW_NOTE if free else ""
    return Mail(
        subject=f"Your GAS annotation {filename} is ready",
        text=(
            f"{_greeting(name)}\n\n"
            f"your annotation job {job_id} has completed.\n\n"
            f"{text_facts}\n"
            f"View the variants and download the annotated VCF here:\n{link}\n\n"
            f"{free_note + NEW_PARAGRAPH if free_note else ''}"
            "— GAS, the Genomics Annotation Service\n"
        ),
        html=_page(
            f"<p>{escape(_greeting(name))}</p>"
            f"<p>your annotation job <code>{escape(job_id)}</code> has completed.</p>"
            f"<ul>{html_facts}</ul>"
            f'<p><a href="{escape(link)}">View the variants and download the annotated VCF</a></p>'
            + (f"<p>{free_note}</p>" if free_note else "")
        ),
    )


def failed(*, name: str, job_id: str, reason: str, link: str) -> Mail:
    advice = (
        "Check the reason above, fix the input file (a VCF 4.x file, plain or bgzipped, "
        "for GRCh37 or GRCh38) and submit it again as a new job. The job page shows the "
        "full log."
    )
    return Mail(
        subject=f"Your GAS annotation job {job_id[:8]} failed",
        text=(
            f"{_greeting(name)}\n\n"
            f"your annotation job {job_id} could not be completed.\n\n"
            f"Reason: {reason}\n\n"
            f"{advice}\n{link}\n\n"
            "— GAS, the Genomics Annotation Service\n"
        ),
        html=_page(
            f"<p>{escape(_greeting(name))}</p>"
            f"<p>your annotation job <code>{escape(job_id)}</code> could not be completed.</p>"
            f"<p><strong>Reason:</strong> {escape(reason)}</p>"
            f"<p>{escape(advice)}</p>"
            f'<p><a href="{escape(link)}">Open the job and its log</a></p>'
        ),
    )


def restored(*, name: str, job_id: str, link: str) -> Mail:
    return Mail(
        subject=f"Your GAS results for job {job_id[:8]} are available again",
        text=(
            f"{_greeting(name)}\n\n"
            f"the results of job {job_id} are back from cold storage and can be "
            f"downloaded again:\n{link}\n\n"
            "As a premium user your results stay available.\n\n"
            "— GAS, the Genomics Annotation Service\n"
        ),
        html=_page(
            f"<p>{escape(_greeting(name))}</p>"
            f"<p>the results of job <code>{escape(job_id)}</code> are back from cold storage "
            "and can be downloaded again.</p>"
            f'<p><a href="{escape(link)}">Open the job</a></p>'
            "<p>As a premium user your results stay available.</p>"
        ),
    )


def _summary_facts(summary: dict[str, Any]) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    if "variants" in summary:
        facts.append(("Variants annotated", f"{summary['variants']:,}"))
    if "in_dbsnp" in summary:
        facts.append(
            ("Known in dbSNP", f"{summary['in_dbsnp']:,} ({summary.get('pct_in_dbsnp', 0)}%)")
        )
    if "build" in summary:
        facts.append(("Genome build", str(summary["build"])))
    regions = summary.get("region_counts") or {}
    facts.extend((f"Region {region}", f"{count:,}") for region, count in regions.items() if count)
    return facts


def _page(body: str) -> str:
    return (
        '<!doctype html><html><body style="font-family: sans-serif; line-height: 1.4">'
        f"{body}<p>— GAS, the Genomics Annotation Service</p></body></html>"
    )
