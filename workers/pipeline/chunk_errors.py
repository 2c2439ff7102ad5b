"""How a chunk step ends when it cannot go on: refused for good, or an unexpected error.

A chunk that fails gives back its import permit at once. If its job may still
run in Marketo (a POST that may have arrived, a job not seen terminal), a ghost
permit keeps that slot until the job should be done, so the queue limit holds.
An unexpected error is retried a bounded number of times
(``Settings.unexpected_error_attempts``), counted on the chunk, and then fails
the chunk with the error's type and text.
"""

from __future__ import annotations

import logging
import uuid

from workers.pipeline import line
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.outcomes import StepOutcome
from workers.pipeline.polling import IMPORT_SLOTS
from workers.pipeline.runtime import Runtime
from workers.pipeline.step_errors import describe
from workers.state import keys as redis_keys
from workers.state.ledger import Chunk, ChunkState, Ledger

logger = logging.getLogger(__name__)

RETRY_SUBMIT_S = 10.0
GHOST_MAX_S = 3600.0


def jobs_key(rt: Runtime) -> str:
    return redis_keys.jobs(rt.settings.instance)


def rate_key(rt: Runtime) -> str:
    return redis_keys.import_rate(rt.settings.instance)


def rate(rt: Runtime) -> float | None:
    value = rt.redis.get(rate_key(rt))
    return float(value) if value else None


def ghost_seconds(rt: Runtime, rows: int) -> float:
    """How long a job we cannot see may keep a slot: behind every outstanding job, two at a time."""
    rows_per_s = rate(rt)
    job_s = rows / rows_per_s if rows_per_s else rt.settings.poll_max_s
    ahead = rt.admission.snapshot().outstanding / IMPORT_SLOTS  # bulk import's jobs
    return min(job_s * (ahead + 1) + rt.settings.poll_max_s, GHOST_MAX_S)


def fail_chunk(
    rt: Runtime,
    dispatch: Dispatcher,
    chunk: Chunk,
    load_id: str,
    state: ChunkState,
    message: str,
    api_calls: int,
    *,
    job_may_run: bool = False,
) -> bool:
    """Move the chunk from ``state`` to failed, free its permit; False if it had moved on."""
    index = chunk.index
    chunk_id = Ledger.chunk_id(load_id, index)
    moved = rt.ledger.move_chunk(
        load_id,
        index,
        [state],
        ChunkState.FAILED,
        {"message": message},
        {"chunks_failed": 1, "rows_in_failed_jobs": chunk.rows, "api_calls": api_calls},
    )
    if not moved.applied:
        return False
    if job_may_run:
        rt.lane(chunk_id).hold_ghost(chunk_id, ghost_seconds(rt, chunk.rows))
    rt.lane(chunk_id).release(chunk_id)
    rt.redis.zrem(jobs_key(rt), chunk_id)
    logger.error("chunk failed load_id=%s chunk=%s (%s): %s", load_id, index, state, message)
    dispatch.pump()
    dispatch.finish(load_id)
    return True


def unexpected(
    rt: Runtime, dispatch: Dispatcher, load_id: str, index: int, step: str, error: Exception
) -> StepOutcome:
    """Count an unexpected error of ``step``; retry it later, or fail the chunk at the limit."""
    secret = rt.settings.marketo_client_secret
    text = describe(error, secret.get_secret_value() if secret else None)
    limit = rt.settings.unexpected_error_attempts
    count = rt.ledger.count_chunk_error(load_id, index, f"{step}: {text}")
    rt.ledger.set_load_fields(load_id, {"last_error": f"chunk {index} {step}: {text}"})
    logger.error(
        "unexpected error in %s load_id=%s chunk=%s (%d of %d): %s",
        step,
        load_id,
        index,
        count,
        limit,
        text,
        exc_info=error,
    )
    chunk = rt.ledger.chunk(load_id, index)
    state = chunk.state
    if count >= limit:
        message = f"{step} failed {count} times with an unexpected error: {text}"
        # A POST that started, or a job not seen terminal, may still run in Marketo.
        may_run = state == ChunkState.SUBMITTED or chunk.post_started_at is not None
        fail_chunk(rt, dispatch, chunk, load_id, state, message, 0, job_may_run=may_run)
        return StepOutcome.FAILED
    chunk_id = Ledger.chunk_id(load_id, index)
    if state == ChunkState.SUBMITTING:
        # Back in line without the permit; ``post_started_at`` stays, so the next
        # attempt counts a possible double submission and covers it with a ghost.
        moved = rt.ledger.move_chunk(load_id, index, [ChunkState.SUBMITTING], ChunkState.WAITING)
        if moved.applied:
            rt.lane(chunk_id).release(chunk_id)
            line.enqueue(rt, dispatch, chunk_id)
            dispatch.pump(countdown=RETRY_SUBMIT_S)
    elif state == ChunkState.SUBMITTED and step == "poll":
        token = uuid.uuid4().hex
        moved = rt.ledger.move_chunk(
            load_id, index, [ChunkState.SUBMITTED], ChunkState.SUBMITTED, {"poll_token": token}
        )
        if moved.applied:
            dispatch.poll(load_id, index, token, countdown=rt.settings.poll_max_s)
    # A chunk still collecting is collected again by the reconciler.
    return StepOutcome.UNEXPECTED_ERROR
