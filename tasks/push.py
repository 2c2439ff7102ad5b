"""The medium-latency queue's tasks: thin glue over ``workers.push``.

``mkto_bulk.push_records`` is the producers' entry (a stable name, like
``mkto_bulk.start_load``); ``mkto_bulk.push_flush`` flushes one queue and is
scheduled by the pushes themselves; ``mkto_bulk.push_sweep`` is beat's safety
net for a flush whose message or worker was lost.
"""

from __future__ import annotations

from typing import Any

from celery import Task

from tasks.load import DISPATCH, _run
from workers.celery_app import MAX_COUNTDOWN_S, app
from workers.pipeline.runtime import runtime
from workers.push import flush, intake


class CeleryFlushScheduler:
    """Schedules a queue's flush as a task (countdowns stay short: the sweep covers longer)."""

    def flush(self, queue_id: str, countdown: float = 0) -> None:
        push_flush.apply_async((queue_id,), countdown=min(max(0.0, countdown), MAX_COUNTDOWN_S))


SCHEDULER = CeleryFlushScheduler()


@app.task(name="mkto_bulk.push_records", bind=True)
def push_records(self: Task, **payload: Any) -> dict[str, Any]:
    """``workers.push.intake``: queue a producer's records (docs/etl/pushing-records.md).

    Returns ``{"queue", "accepted", "refused": [{"index", "field", "message"}], "depth", "api"}``.
    """
    return _run(self, lambda: intake.push(runtime(), SCHEDULER, payload))


@app.task(name="mkto_bulk.push_flush", bind=True)
def push_flush(self: Task, queue_id: str) -> dict[str, Any]:
    """``workers.push.flush``: send a queue's full or due records, schedule its next flush."""
    return _run(self, lambda: flush.flush(runtime(), DISPATCH, SCHEDULER, queue_id))


@app.task(name="mkto_bulk.push_sweep", bind=True)
def push_sweep(self: Task) -> int:
    """``workers.push.flush.sweep``: hand every queue whose flush is overdue to a flusher."""
    return _run(self, lambda: flush.sweep(runtime(), SCHEDULER))
