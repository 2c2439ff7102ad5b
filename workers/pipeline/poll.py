"""Polling an import job until Marketo says it is terminal, then handing it to collect.

Marketo's queue is FIFO with two import slots, so the next poll is timed from
where the job stands (``polling``); when a slot frees, the jobs now first in
line are looked at soon. A poll token in the ledger makes every poll but the
latest one stale, so a duplicated or re-driven poll chain collapses to one.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid

from workers.errors import DailyQuotaExhausted, PermanentError
from workers.importers import Job
from workers.pipeline import quota_wait
from workers.pipeline.chunk_errors import fail_chunk, jobs_key, rate, rate_key, unexpected
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.outcomes import StepOutcome
from workers.pipeline.polling import IMPORT_SLOTS, next_poll_delay, updated_rate
from workers.pipeline.runtime import Runtime
from workers.pipeline.step_errors import is_unexpected
from workers.state.ledger import Chunk, ChunkFields, ChunkState, Ledger
from workers.state.redis_text import text
from workers.targets import import_target
from workers.telemetry.context import bind

logger = logging.getLogger(__name__)


def poll_delay(rt: Runtime, chunk_id: str, chunk: Chunk, state: str) -> float:
    rank = rt.redis.zrank(jobs_key(rt), chunk_id)
    since = chunk.importing_since
    return next_poll_delay(
        state=state,
        rank=rank if isinstance(rank, int) else 0,
        rows=chunk.rows,
        rows_per_s=rate(rt),
        importing_for_s=time.time() - since if since else 0.0,
        poll_min_s=rt.settings.poll_min_s,
        poll_max_s=rt.settings.poll_max_s,
    )


def poll(
    rt: Runtime, dispatch: Dispatcher, load_id: str, index: int, token: str
) -> StepOutcome | str:
    """Ask Marketo for the job's status; schedule the next poll or move on to collecting.

    Returns what happened, or, when Marketo answered, its status of the job.
    """
    chunk = rt.ledger.chunk(load_id, index)
    bind(batch_id=chunk.batch_id)
    if chunk.state != ChunkState.SUBMITTED or chunk.poll_token != token:
        return StepOutcome.STALE
    try:
        return _poll(rt, dispatch, load_id, index, chunk)
    except Exception as error:
        if not is_unexpected(error):
            raise
        return unexpected(rt, dispatch, load_id, index, "poll", error)


def _poll(
    rt: Runtime, dispatch: Dispatcher, load_id: str, index: int, chunk: Chunk
) -> StepOutcome | str:
    chunk_id = Ledger.chunk_id(load_id, index)
    load = rt.ledger.load(load_id)
    request = load.request
    job = Job(chunk.required_batch_id(), chunk.rows)
    importer = rt.importer_for(request)
    try:
        status = importer.status(import_target(request), job)
    except DailyQuotaExhausted as error:
        # The job goes on in Marketo and keeps its permit; look again later.
        delay = quota_wait.record(rt, load_id, error)
        rt.lane(chunk_id).renew(chunk_id)
        retry = uuid.uuid4().hex
        moved = rt.ledger.move_chunk(
            load_id, index, [ChunkState.SUBMITTED], ChunkState.SUBMITTED, {"poll_token": retry}
        )
        if moved.applied:
            dispatch.poll(load_id, index, retry, countdown=delay)
        return StepOutcome.QUOTA_WAIT
    except PermanentError as error:
        # Marketo no longer knows the job (e.g. its batch id expired): polling
        # again cannot help, and the job holds no place in Marketo's queue.
        fail_chunk(rt, dispatch, chunk, load_id, ChunkState.SUBMITTED, str(error), 1)
        return StepOutcome.FAILED
    quota_wait.clear(rt, load_id, load)
    rt.lane(chunk_id).renew(chunk_id)
    now = time.time()
    if status.finished:
        moved = rt.ledger.move_chunk(
            load_id,
            index,
            [ChunkState.SUBMITTED],
            ChunkState.COLLECTING,
            {
                "status": status.raw_status,
                "processed": status.records_processed,
                "failed": status.rows_failed,
                "warnings": status.rows_with_warning,
                "message": status.message or "",
                "finished_at": now,
            },
            {"api_calls": status.calls},
        )
        if moved.applied:
            rt.lane(chunk_id).release(chunk_id)
            rt.redis.zrem(jobs_key(rt), chunk_id)
            started = chunk.importing_since or chunk.submitted_at
            if started is not None and importer.queued_in_marketo:
                rt.redis.set(rate_key(rt), updated_rate(rate(rt), chunk.rows, now - started))
            logger.info(
                "job %s load_id=%s chunk=%s batch_id=%s processed=%s failed=%s warnings=%s",
                status.raw_status,
                load_id,
                index,
                status.job_id,
                status.records_processed,
                status.rows_failed,
                status.rows_with_warning,
            )
            dispatch.pump()
            _poke_next_in_line(rt, dispatch)
            dispatch.collect(load_id, index)
        return status.raw_status
    token = uuid.uuid4().hex
    fields: ChunkFields = {"status": status.raw_status, "poll_token": token}
    if status.raw_status == "Importing" and not chunk.importing_since:
        fields["importing_since"] = now
        chunk = dataclasses.replace(chunk, importing_since=now)
    moved = rt.ledger.move_chunk(
        load_id,
        index,
        [ChunkState.SUBMITTED],
        ChunkState.SUBMITTED,
        fields,
        {"api_calls": status.calls},
    )
    if moved.applied:
        delay = poll_delay(rt, chunk_id, chunk, status.raw_status)
        dispatch.poll(load_id, index, token, countdown=delay)
    return status.raw_status


def _poke_next_in_line(rt: Runtime, dispatch: Dispatcher) -> None:
    """A slot freed: the queued jobs now first in line have probably started; look soon."""
    for raw in rt.redis.zrange(jobs_key(rt), 0, IMPORT_SLOTS - 1):
        chunk_id = text(raw)
        load_id, index = Ledger.parse_chunk_id(chunk_id)
        chunk = rt.ledger.chunk(load_id, index)
        if chunk.state != ChunkState.SUBMITTED or chunk.status != "Queued":
            continue
        token = uuid.uuid4().hex
        now = time.time()
        moved = rt.ledger.move_chunk(
            load_id,
            index,
            [ChunkState.SUBMITTED],
            ChunkState.SUBMITTED,
            {"status": "Importing", "importing_since": now, "poll_token": token},
        )
        if moved.applied:
            chunk = dataclasses.replace(chunk, importing_since=now)
            delay = poll_delay(rt, chunk_id, chunk, "Importing")
            dispatch.poll(load_id, index, token, countdown=delay)
