from __future__ import annotations

import json

import pytest

from gas_core.events import JobFailed, JobFailedPayload
from gas_core.operations import UnknownQueue, resolve_queue, summarise
from gas_core.settings import StackSettings
from gas_core.tiers import Tier


def test_an_operator_names_a_queue_short_full_or_by_its_dlq() -> None:
    stack = StackSettings(prefix="gas-prod")
    for name in ("annotator", "gas-prod-annotator", "gas-prod-annotator-dlq", "annotator-dlq"):
        assert resolve_queue(stack, name) == "gas-prod-annotator"
    assert resolve_queue(stack, "archiver") == "gas-prod-archiver"
    assert resolve_queue(stack, "archiver-restores-dlq") == "gas-prod-archiver-restores"
    with pytest.raises(UnknownQueue, match="choose one of: annotator, notifier, archiver"):
        resolve_queue(stack, "gas-dev-annotator")


def test_dead_letters_are_summarised_on_one_line_with_their_job() -> None:
    event = JobFailed(
        job_id="j1",
        user_id="u1",
        payload=JobFailedPayload(tier=Tier.FREE, reason="Line 2:\n no\tcolumns"),
    )
    assert summarise(event.model_dump_json()) == ("j1", "job.failed user u1: Line 2: no columns")

    restore = {
        "Records": [
            {
                "eventName": "ObjectRestore:Completed",
                "s3": {"object": {"key": "u1/j2/in.annot.vcf.gz"}},
            }
        ]
    }
    assert summarise(json.dumps(restore)) == (
        "j2",
        "ObjectRestore:Completed u1/j2/in.annot.vcf.gz",
    )
    job_id, line = summarise("x" * 500)
    assert job_id is None and line.startswith("not a GAS event: xxx") and len(line) == 100
