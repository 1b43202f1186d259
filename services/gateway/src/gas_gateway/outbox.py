"""Publishing the events recorded in the outbox table to SNS.

A change and its event are written in one transaction; the relay publishes right after the
commit and a background loop retries whatever is left (SNS down, the process killed), so an
event is published at least once. Several replicas share the work with SKIP LOCKED.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gas_core.events import Envelope, parse_event
from gas_core.messaging import SnsPublisher, topic_arn
from gas_gateway.accounts import Db

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient

log = logging.getLogger(__name__)
BATCH = 50


async def enqueue(db: Db, *, topic: str, event: Envelope) -> None:
    await db.execute(
        "INSERT INTO outbox (topic, event) VALUES ($1, $2::jsonb)", topic, event.model_dump_json()
    )


class OutboxRelay:
    def __init__(self, pool: Any, sns: SNSClient) -> None:
        self._pool = pool
        self._sns = sns
        self._topic_arns: dict[str, str] = {}

    async def _topic_arn(self, name: str) -> str:
        if name not in self._topic_arns:
            self._topic_arns[name] = await topic_arn(self._sns, name)
        return self._topic_arns[name]

    async def publish_pending(self) -> int:
        published = 0
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                """SELECT id, topic, event FROM outbox WHERE published_at IS NULL
                   ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
                BATCH,
            )
            for row in rows:
                event = parse_event(row["event"])
                await SnsPublisher(self._sns, await self._topic_arn(row["topic"])).publish(event)
                await connection.execute(
                    "UPDATE outbox SET published_at = now() WHERE id = $1", row["id"]
                )
                published += 1
        return published

    async def try_publish(self) -> None:
        try:
            await self.publish_pending()
        except Exception:
            log.warning("publishing events failed; the outbox loop retries", exc_info=True)
