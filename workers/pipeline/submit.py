"""Admitting a chunk (a permit) and submitting it to Marketo; polling is ``poll``.

Each step re-reads the ledger and acts only from the state it expects, so a
redelivered or duplicated task does nothing the second time. A permit is
taken before the POST and returned when a poll sees the job end. No step
keeps it forever: an unexpected error fails the chunk after a bounded number
of attempts (``chunk_errors``), and while the daily quota is used up the chunk
waits in line without it (``quota_wait``).
"""

from __future__ import annotations

import logging
import time
import uuid

from workers.errors import (
    DailyQuotaExhausted,
    MarketoTransportError,
    PermanentError,
    StepBusy,
    TooManyImports,
    TransientError,
)
from workers.marketo.upload import Upload
from workers.pipeline import line, quota_wait, replica_wait
from workers.pipeline.chunk_errors import RETRY_SUBMIT_S, fail_chunk, ghost_seconds, jobs_key
from workers.pipeline.chunk_errors import unexpected as _unexpected
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.outcomes import StepOutcome
from workers.pipeline.poll import poll_delay
from workers.pipeline.runtime import Runtime
from workers.pipeline.step_errors import is_unexpected
from workers.state import keys as redis_keys
from workers.state.lease import Lease
from workers.state.ledger import Chunk, ChunkState, Ledger
from workers.targets import import_target
from workers.telemetry.context import bind

logger = logging.getLogger(__name__)

__all__ = ["RETRY_SUBMIT_S", "jobs_key", "pump", "submit"]


def pump(rt: Runtime, dispatch: Dispatcher) -> list[str]:
    """Give free permits to the chunks first in line (in every API's lane) and send them on."""
    granted = [chunk_id for lane in rt.lanes for chunk_id in lane.grant()]
    for chunk_id in granted:
        load_id, index = Ledger.parse_chunk_id(chunk_id)
        moved = rt.ledger.move_chunk(load_id, index, [ChunkState.WAITING], ChunkState.SUBMITTING)
        if moved.applied or moved.found == ChunkState.SUBMITTING:
            dispatch.submit(load_id, index)
        else:  # finished or failed meanwhile: the permit is not needed
            rt.lane(chunk_id).release(chunk_id)
    return granted


def submit(rt: Runtime, dispatch: Dispatcher, load_id: str, index: int) -> StepOutcome:
    """POST the chunk as an import job; returns what happened, for logs and tests."""
    chunk_id = Ledger.chunk_id(load_id, index)
    chunk = rt.ledger.chunk(load_id, index)
    if chunk.state != ChunkState.SUBMITTING:
        return StepOutcome.NOT_SUBMITTING
    if not rt.lane(chunk_id).holds(chunk_id):
        # The reconciler took the permit back: get in line again.
        rt.ledger.move_chunk(load_id, index, [ChunkState.SUBMITTING], ChunkState.WAITING)
        line.enqueue(rt, dispatch, chunk_id)
        dispatch.pump()
        return StepOutcome.REQUEUED
    # One POST attempt is bounded by the call lease; allow for one retry. A lock
    # left by a killed worker expires, and the reconciler then submits again.
    lock = Lease(rt.redis, redis_keys.submit_lock(chunk_id), 2 * rt.settings.marketo_call_lease_s)
    if not lock.acquire():
        # Another attempt is uploading right now, or died holding the lock: look again soon.
        raise StepBusy(f"submit of chunk {index} of load {load_id} is in progress elsewhere")
    try:
        return _submit(rt, dispatch, load_id, index, chunk)
    except Exception as error:
        if not is_unexpected(error):
            raise
        return _unexpected(rt, dispatch, load_id, index, "submit", error)
    finally:
        # Only our own lock: after it expired, it may be another attempt's.
        lock.release()


def _submit(
    rt: Runtime, dispatch: Dispatcher, load_id: str, index: int, chunk: Chunk
) -> StepOutcome:
    chunk_id = Ledger.chunk_id(load_id, index)
    rt.lane(chunk_id).renew(chunk_id)
    load = rt.ledger.load(load_id)
    request = load.request
    if chunk.post_started_at is not None:
        # An earlier attempt died after starting its POST: Marketo may run that
        # job too. Count it, and keep a slot for it until it should be done.
        rt.ledger.add_to_load(load_id, {"possible_double_submissions": 1})
        rt.lane(chunk_id).hold_ghost(chunk_id, ghost_seconds(rt, chunk.rows))
    started = rt.ledger.move_chunk(
        load_id,
        index,
        [ChunkState.SUBMITTING],
        ChunkState.SUBMITTING,
        {"post_started_at": time.time()},
    )
    if not started.applied:
        return StepOutcome.NOT_SUBMITTING
    rt.ledger.count_submission(load_id, index)
    if not replica_wait.confirmed(rt):
        return replica_wait.wait_for_replicas(rt, dispatch, load_id, index)
    uri = chunk.required_uri()
    upload = Upload(
        open=lambda: rt.storage.open(uri),
        length=chunk.bytes,
        filename=uri.rsplit("/", 1)[-1],
        key=uri,
    )
    log = f"load_id={load_id} chunk={index}"
    try:
        # A POST that may have reached Marketo is repeated by this step, not the
        # importer, so the report counts it and a ghost permit covers its job.
        status = rt.importer_for(request).submit(import_target(request), upload)
    except DailyQuotaExhausted as error:
        return _wait_for_quota(rt, dispatch, load_id, index, error)
    except TooManyImports:
        hold = rt.settings.too_many_imports_hold_s
        queued = rt.lane(chunk_id).too_many_imports(chunk_id, hold)
        rt.ledger.move_chunk(
            load_id,
            index,
            [ChunkState.SUBMITTING],
            ChunkState.WAITING,
            {"post_started_at": ""},
            {"too_many_imports": 1, "api_calls": 1},
        )
        if not queued:  # its load was cancelled: never sent, so out of line for good
            line.cancel_waiting(rt, dispatch, load_id)
        logger.warning("1016 too many imports, holding %.0fs %s", hold, log)
        dispatch.pump(countdown=hold)
        return StepOutcome.TOO_MANY_IMPORTS
    except MarketoTransportError as error:
        if error.maybe_sent:
            # The job may exist: keep the permit and try again (counted as a double).
            logger.warning("submit unanswered, retrying %s: %s", log, error)
            dispatch.submit(load_id, index, countdown=RETRY_SUBMIT_S)
            return StepOutcome.RETRY_MAYBE_SENT
        return _back_in_line(rt, dispatch, load_id, index, str(error))
    except TransientError as error:
        return _back_in_line(rt, dispatch, load_id, index, str(error))
    except PermanentError as error:
        return _fail_holding_chunk(rt, dispatch, chunk, load_id, ChunkState.SUBMITTING, error, 0)
    quota_wait.clear(rt, load_id, load)
    bind(batch_id=status.job_id)
    now = time.time()
    token = uuid.uuid4().hex
    recorded = rt.ledger.move_chunk(
        load_id,
        index,
        [ChunkState.SUBMITTING],
        ChunkState.SUBMITTED,
        {
            "batch_id": status.job_id,
            "submitted_at": now,
            "status": status.raw_status,
            "poll_token": token,
            "post_started_at": "",
        },
        {"api_calls": status.calls, "jobs_submitted": 1},
    )
    if not recorded.applied:
        # A concurrent attempt (whose lock had expired) recorded its job first; this
        # one is a double submission, counted and covered by a ghost permit already.
        logger.warning("second job for %s batch_id=%s not tracked", log, status.job_id)
        return StepOutcome.DUPLICATE
    logger.info("submitted %s batch_id=%s", log, status.job_id)
    if status.finished:  # a request-based API: nothing left to wait for in Marketo
        dispatch.poll(load_id, index, token, countdown=0)
        return StepOutcome.SUBMITTED
    rt.redis.zadd(jobs_key(rt), {chunk_id: now})
    delay = poll_delay(rt, chunk_id, chunk, status.raw_status)
    dispatch.poll(load_id, index, token, countdown=delay)
    return StepOutcome.SUBMITTED


def _fail_holding_chunk(
    rt: Runtime,
    dispatch: Dispatcher,
    chunk: Chunk,
    load_id: str,
    state: ChunkState,
    error: PermanentError,
    api_calls: int,
) -> StepOutcome:
    """Marketo refused the chunk for good: record why, and free its permit for the next one."""
    fail_chunk(rt, dispatch, chunk, load_id, state, str(error), api_calls)
    return StepOutcome.FAILED


def _wait_for_quota(
    rt: Runtime, dispatch: Dispatcher, load_id: str, index: int, error: DailyQuotaExhausted
) -> StepOutcome:
    """The daily share is used: nothing was sent, so wait first in line, without the permit.

    The next grant (at the latest after ``quota_recheck_s``) tries again, so a
    raised quota is used at once and the permit never waits on the reset.
    """
    chunk_id = Ledger.chunk_id(load_id, index)
    delay = quota_wait.record(rt, load_id, error)
    moved = rt.ledger.move_chunk(
        load_id, index, [ChunkState.SUBMITTING], ChunkState.WAITING, {"post_started_at": ""}
    )
    if moved.applied:
        rt.ledger.count_submission(load_id, index, -1)  # counted before the call, never sent
        if not rt.lane(chunk_id).requeue_front(chunk_id):  # its load was cancelled
            line.cancel_waiting(rt, dispatch, load_id)
        dispatch.pump(countdown=delay)
    return StepOutcome.QUOTA_WAIT


def _back_in_line(
    rt: Runtime, dispatch: Dispatcher, load_id: str, index: int, why: str
) -> StepOutcome:
    """The POST surely did not happen: return the permit and wait in line again."""
    chunk_id = Ledger.chunk_id(load_id, index)
    rt.ledger.move_chunk(
        load_id, index, [ChunkState.SUBMITTING], ChunkState.WAITING, {"post_started_at": ""}
    )
    rt.lane(chunk_id).release(chunk_id)
    line.enqueue(rt, dispatch, chunk_id)
    logger.warning("submit failed, back in line load_id=%s chunk=%s: %s", load_id, index, why)
    dispatch.pump(countdown=RETRY_SUBMIT_S)
    return StepOutcome.BACK_IN_LINE
