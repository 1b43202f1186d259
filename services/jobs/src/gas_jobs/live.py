"""Live progress of one job as Server-Sent Events (``GET /jobs/{id}/events``).

The job record is read about once a second; an ``event: job`` with the job (as
``JobPublic``) goes out whenever its status, progress, queue position or storage changed,
a comment line keeps the connection open while nothing changes (load balancers drop idle
connections: the ALB after 60 s), and the stream ends once the job has finished.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from gas_core.jobs import JobRecord
from gas_jobs import service
from gas_jobs.models import JobPublic

RETRY_MILLISECONDS = 3000


async def job_events(jobs: service.Jobs, job: JobRecord) -> AsyncIterator[str]:
    # How long a browser's EventSource waits before reconnecting after a drop.
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    shown: tuple[object, ...] | None = None
    last_sent = time.monotonic()
    current: JobRecord | None = job
    while current is not None:
        public = JobPublic.from_record(
            current, queue_position=await service.queue_position(jobs, job=current)
        )
        state = (public.status, public.progress, public.queue_position, public.storage)
        if state != shown:
            shown = state
            last_sent = time.monotonic()
            yield f"event: job\ndata: {public.model_dump_json()}\n\n"
        elif time.monotonic() - last_sent >= jobs.events_ping_seconds:
            last_sent = time.monotonic()
            yield ": ping\n\n"
        if current.finished:
            return
        await asyncio.sleep(jobs.events_check_seconds)
        current = await jobs.repo.get(job.job_id)
