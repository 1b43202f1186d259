"""Sending a mail through SES as one MIME message with plain-text and HTML alternatives."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr
from typing import TYPE_CHECKING, Protocol

from gas_notifier.mail import Mail

if TYPE_CHECKING:
    from types_aiobotocore_ses import SESClient


class Mailer(Protocol):
    async def send(self, *, to: str, name: str, mail: Mail) -> str: ...


class SesMailer:
    def __init__(self, ses: SESClient, *, sender: str) -> None:
        self._ses = ses
        self._sender = sender

    async def send(self, *, to: str, name: str, mail: Mail) -> str:
        """Send ``mail``; returns SES's message id."""
        message = EmailMessage()
        message["Subject"] = mail.subject
        message["From"] = formataddr(("GAS", self._sender))
        message["To"] = formataddr((name, to))
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        response = await self._ses.send_raw_email(
            Source=self._sender, RawMessage={"Data": message.as_bytes()}
        )
        return str(response["MessageId"])
