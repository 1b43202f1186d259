"""Reading S3's ``ObjectRestore:Completed`` notifications from the restore queue.

These are S3's own messages, not our event envelope, and they come in more than one shape:

* S3 → SQS: ``{"Records": [{"eventName": "ObjectRestore:Completed", "s3": {"bucket":
  {"name": ...}, "object": {"key": <URL-encoded key>}}}]}`` (AWS and moto; some emitters
  prefix the event name with ``s3:``);
* the same, wrapped in an SNS envelope (``{"Type": "Notification", "Message": "<json>"}``)
  when the bucket notifies a topic that fans out without raw delivery;
* EventBridge: ``{"detail-type": "Object Restore Completed", "detail": {"bucket": {"name"},
  "object": {"key"}}}``;
* ``{"Event": "s3:TestEvent"}``, which S3 sends once when the notification is configured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

RESTORE_COMPLETED = "ObjectRestore:Completed"


@dataclass(frozen=True)
class RestoredObject:
    bucket: str
    key: str


class UnreadableNotification(ValueError):
    """The message is not an S3 notification in any shape we know."""


def restored_objects(body: str | bytes) -> list[RestoredObject]:
    """The objects whose restore completed, named in one message (empty for other events)."""
    try:
        data = json.loads(body)
    except ValueError as error:
        raise UnreadableNotification(f"not JSON: {error}") from error
    if not isinstance(data, dict):
        raise UnreadableNotification("not a JSON object")
    if data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        return restored_objects(data["Message"])
    if isinstance(data.get("Records"), list):
        return [_from_record(record) for record in data["Records"] if _is_restore(record)]
    if "detail-type" in data:
        if data["detail-type"] != "Object Restore Completed":
            return []
        try:
            detail = data["detail"]
            return [RestoredObject(bucket=detail["bucket"]["name"], key=detail["object"]["key"])]
        except (KeyError, TypeError) as error:
            raise UnreadableNotification(
                f"EventBridge event without bucket/key: {error}"
            ) from error
    if data.get("Event") == "s3:TestEvent":
        return []
    raise UnreadableNotification(f"unknown message shape with keys {sorted(data)[:5]}")


def _is_restore(record: Any) -> bool:
    return isinstance(record, dict) and (
        str(record.get("eventName", "")).removeprefix("s3:") == RESTORE_COMPLETED
    )


def _from_record(record: dict[str, Any]) -> RestoredObject:
    try:
        return RestoredObject(
            bucket=record["s3"]["bucket"]["name"],
            key=unquote_plus(record["s3"]["object"]["key"]),
        )
    except (KeyError, TypeError) as error:
        raise UnreadableNotification(f"S3 record without bucket/key: {error}") from error
