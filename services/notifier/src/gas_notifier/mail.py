"""What the mails say: one subject, a plain-text and an HTML body per kind of event."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str


NEW_PARAGRAPH = "\n\n"
# anntools speaks to command-line users; a mail reader uses the web page instead.
_CLI_BUILD_ADVICE = re.compile(r"annotate it with --build (\S+)")


def free_window_note(archive_at: datetime) -> str:
    return (
        f"On the free tier this result can be viewed and downloaded until "
        f"{_moment(archive_at)}; then it moves to cold storage, and upgrading to premium "
        "brings it back."
    )


def archive_time(completed_at: datetime, free_window_seconds: int) -> datetime:
    return completed_at + timedelta(seconds=free_window_seconds)


def _moment(moment: datetime) -> str:
    return moment.strftime("%d %b %Y, %H:%M UTC").lstrip("0")


def _greeting(name: str) -> str:
    return f"Hello {name}," if name.strip() else "Hello,"


def job_link(public_url: str, job_id: str) -> str:
    return f"{public_url.rstrip('/')}/jobs/{job_id}"


def completed(
    *,
    name: str,
    job_id: str,
    filename: str,
    summary: dict[str, Any],
    link: str,
    archive_at: datetime | None,
) -> Mail:
    """``archive_at``: when a free result moves to cold storage (None: it stays)."""
    facts = _summary_facts(summary)
    text_facts = "".join(f"  - {label}: {value}\n" for label, value in facts)
    html_facts = "".join(
        f"<li>{escape(label)}: <strong>{escape(value)}</strong></li>" for label, value in facts
    )
    free_note = free_window_note(archive_at) if archive_at else ""
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
    reason = _CLI_BUILD_ADVICE.sub(r"choose genome build \1 when you submit it again", reason)
    advice = (
        "Open the job page below for the full log. Then fix the input file (a VCF 4.x "
        "file, plain or bgzipped, for GRCh37 or GRCh38) and submit it again as a new job "
        "from the GAS web page: drop the file on the Submit page."
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


def archived(*, name: str, job_id: str, link: str) -> Mail:
    offer = (
        "Upgrade to premium on the job page to restore it (and all your other archived "
        "results); premium results stay available, and there is no size limit."
    )
    return Mail(
        subject=f"Your GAS results for job {job_id[:8]} moved to cold storage",
        text=(
            f"{_greeting(name)}\n\n"
            f"the free download period of job {job_id} is over, so its results have moved "
            "to cold storage.\n\n"
            f"{offer}\n{link}\n\n"
            "— GAS, the Genomics Annotation Service\n"
        ),
        html=_page(
            f"<p>{escape(_greeting(name))}</p>"
            f"<p>the free download period of job <code>{escape(job_id)}</code> is over, so "
            "its results have moved to cold storage.</p>"
            f"<p>{escape(offer)}</p>"
            f'<p><a href="{escape(link)}">Open the job and upgrade</a></p>'
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
