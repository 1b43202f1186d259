"""S3 restore notifications in every shape the restore queue may carry."""

from __future__ import annotations

import json

import pytest

from gas_archiver.notifications import RestoredObject, UnreadableNotification, restored_objects

KEY = "user 1/job1/my sample+x.annot.vcf.gz"
ENCODED_KEY = "user+1%2Fjob1%2Fmy+sample%2Bx.annot.vcf.gz"


def s3_record(event_name: str) -> dict[str, object]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": event_name,
        "s3": {"bucket": {"name": "gas-archive"}, "object": {"key": ENCODED_KEY, "size": 10}},
    }


@pytest.mark.parametrize(
    "event_name",
    ["ObjectRestore:Completed", "s3:ObjectRestore:Completed"],
    ids=["aws-and-moto", "s3-prefixed"],
)
def test_s3_records_name_the_restored_object_with_its_key_decoded(event_name: str) -> None:
    body = json.dumps({"Records": [s3_record(event_name), s3_record("ObjectRestore:Post")]})
    assert restored_objects(body) == [RestoredObject(bucket="gas-archive", key=KEY)]


def test_a_notification_wrapped_by_sns_is_unwrapped() -> None:
    inner = json.dumps({"Records": [s3_record("ObjectRestore:Completed")]})
    body = json.dumps({"Type": "Notification", "Message": inner})
    assert restored_objects(body) == [RestoredObject(bucket="gas-archive", key=KEY)]


def test_eventbridge_restore_events_are_understood() -> None:
    body = json.dumps(
        {
            "detail-type": "Object Restore Completed",
            "source": "aws.s3",
            "detail": {"bucket": {"name": "gas-archive"}, "object": {"key": KEY}},
        }
    )
    assert restored_objects(body) == [RestoredObject(bucket="gas-archive", key=KEY)]


def test_s3_test_events_and_other_events_name_nothing() -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "gas-archive"}
    assert restored_objects(json.dumps(test_event)) == []
    assert restored_objects(json.dumps({"detail-type": "Object Created", "detail": {}})) == []


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"hello": "world"}),
        json.dumps({"Records": [{"eventName": "ObjectRestore:Completed"}]}),
    ],
)
def test_anything_else_is_refused_loudly(body: str) -> None:
    with pytest.raises(UnreadableNotification):
        restored_objects(body)
