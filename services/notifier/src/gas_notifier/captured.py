"""Reading the mails the local moto server's SES captured (``GET /moto-api/data.json``).

Only the local stack has this; on AWS, mails go to real inboxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import getaddresses

import httpx


@dataclass(frozen=True)
class CapturedMail:
    message_id: str
    sender: str
    to: list[str]
    subject: str
    text: str
    html: str


def read_captured_mails(moto_url: str) -> list[CapturedMail]:
    """Every mail SES accepted, oldest first."""
    response = httpx.get(f"{moto_url.rstrip('/')}/moto-api/data.json", timeout=30.0)
    response.raise_for_status()
    ses = response.json().get("ses", {})
    mails = [_from_raw(item) for item in ses.get("RawMessage", [])]
    mails.extend(_from_simple(item) for item in ses.get("Message", []))
    return mails


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
