"""Reading the mails the local moto server's SES captured.

The local stack's moto launcher (``gas_testing.motoserver``, used by ``make dev`` and the
tests) lists them cheaply at ``GET /gas-testing/ses/sent``; a plain moto server only has
``GET /moto-api/data.json``, which dumps every model moto ever made — slow after many jobs, and
answering 500 when some model cannot be dumped — so it is the fallback. Only the local stack
has this; on AWS, mails go to real inboxes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

import httpx


@dataclass(frozen=True)
class CapturedMail:
    message_id: str
    sender: str
    to: list[str]
    subject: str
    text: str
    html: str


SENT_MAIL_PATH = "/gas-testing/ses/sent"


def read_captured_mails(moto_url: str) -> list[CapturedMail]:
    """Every mail SES accepted, oldest first."""
    listed = httpx.get(f"{moto_url.rstrip('/')}{SENT_MAIL_PATH}", timeout=30.0)
    if listed.status_code != 404:
        listed.raise_for_status()
        return [
            _from_raw(item) if "raw_data" in item else _from_simple(item) for item in listed.json()
        ]
    ses = _moto_state(moto_url).get("ses", {})
    mails = [_from_raw(item) for item in ses.get("RawMessage", [])]
    mails.extend(_from_simple(item) for item in ses.get("Message", []))
    return mails


def _moto_state(moto_url: str, attempts: int = 5) -> dict[str, Any]:
    # moto dumps every service's state in one go and answers 500 when another request
    # changes that state mid-dump; a moment later the dump succeeds.
    for attempt in range(attempts):
        response = httpx.get(f"{moto_url.rstrip('/')}/moto-api/data.json", timeout=30.0)
        if response.status_code < 500 or attempt == attempts - 1:
            break
        time.sleep(0.2)
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


def _from_raw(item: dict[str, object]) -> CapturedMail:
    message = message_from_string(str(item["raw_data"]), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return CapturedMail(
        message_id=str(item["id"]),
        sender=str(message["From"]),
        to=[address for _, address in getaddresses([str(message["To"] or "")])],
        subject=str(message["Subject"]),
        text=_part(message, "plain"),
        html=_part(message, "html"),
    )


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    return str(body.get_content()) if body is not None else ""


def _from_simple(item: dict[str, object]) -> CapturedMail:
    destinations = item.get("destinations") or {}
    to = list(destinations.get("ToAddresses", [])) if isinstance(destinations, dict) else []
    body = str(item.get("body", ""))
    return CapturedMail(
        message_id=str(item["id"]),
        sender=str(item.get("source", "")),
        to=to,
        subject=str(item.get("subject", "")),
        text=body,
        html=body,
    )
