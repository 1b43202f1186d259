"""The local moto server lists the mails SES accepted without dumping all of its state."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gas_core.aws import aws_clients
from gas_core.settings import AwsSettings
from gas_testing.localstack import MotoServer
from gas_testing.motoserver import SENT_MAIL_PATH

pytestmark = pytest.mark.integration

RAW = (
    "From: gas@example.org\r\nTo: ann@example.org\r\nSubject: Your job is ready\r\n"
    "Content-Type: text/plain\r\n\r\nSee /jobs/abc\r\n"
)


def test_sent_mails_are_listed_with_their_raw_text(moto: MotoServer) -> None:
    aws = AwsSettings(
        endpoint_url=moto.url,
        access_key_id="testing",
        secret_access_key="testing",  # type: ignore[arg-type]
    )

    async def send() -> None:
        async with aws_clients(aws) as clients:
            ses = await clients.client("ses")
            await ses.verify_email_identity(EmailAddress="gas@example.org")
            await ses.send_raw_email(RawMessage={"Data": RAW.encode()})

    before = httpx.get(f"{moto.url}{SENT_MAIL_PATH}").json()
    asyncio.run(send())
    after = httpx.get(f"{moto.url}{SENT_MAIL_PATH}").json()

    assert len(after) == len(before) + 1
    assert "Subject: Your job is ready" in after[-1]["raw_data"]
    assert "See /jobs/abc" in after[-1]["raw_data"]
