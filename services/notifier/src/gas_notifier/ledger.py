"""The ledger of mails already sent, so a redelivered event sends no second mail.

One DynamoDB item per mail (``stack.sent_mail_table``, key ``mail_key``). Sending is
claim → send → mark sent. The claim is a conditional put, so of two deliveries of one event
only one sends; a claim whose worker died mid-send expires after a lease and the mail is
sent by the redelivery. The only way to get two mails is a crash after SES accepted the mail
and before the ledger said so — never zero mails.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from gas_core.infra import SENT_MAIL_TTL_ATTRIBUTE

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

KEEP_SECONDS = 30 * 24 * 3600


class Claim(StrEnum):
    CLAIMED = "claimed"
    ALREADY_SENT = "already-sent"
    IN_PROGRESS = "in-progress"


class SentMailLedger:
    def __init__(self, dynamodb: DynamoDBClient, table: str, *, lease_seconds: int) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._lease_seconds = lease_seconds

    async def claim(self, mail_key: str, *, now: float | None = None) -> Claim:
        now = time.time() if now is None else now
        try:
            await self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "mail_key": {"S": mail_key},
                    "state": {"S": "sending"},
                    "claimed_until": {"N": str(now + self._lease_seconds)},
                    SENT_MAIL_TTL_ATTRIBUTE: {"N": str(int(now) + KEEP_SECONDS)},
                },
                ConditionExpression=(
                    "attribute_not_exists(mail_key) OR (#state = :sending AND claimed_until < :now)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":sending": {"S": "sending"}, ":now": {"N": str(now)}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            item = await self._dynamodb.get_item(
                TableName=self._table, Key={"mail_key": {"S": mail_key}}, ConsistentRead=True
            )
            state = item.get("Item", {}).get("state", {}).get("S")
            return Claim.ALREADY_SENT if state == "sent" else Claim.IN_PROGRESS
        return Claim.CLAIMED

    async def mark_sent(self, mail_key: str, *, message_id: str) -> None:
        await self._dynamodb.update_item(
            TableName=self._table,
            Key={"mail_key": {"S": mail_key}},
            UpdateExpression="SET #state = :sent, message_id = :id REMOVE claimed_until",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":sent": {"S": "sent"}, ":id": {"S": message_id}},
        )

    async def release(self, mail_key: str) -> None:
        """Give up a claim whose send failed, so the redelivery can send at once."""
        try:
            await self._dynamodb.delete_item(
                TableName=self._table,
                Key={"mail_key": {"S": mail_key}},
                ConditionExpression="#state = :sending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":sending": {"S": "sending"}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
