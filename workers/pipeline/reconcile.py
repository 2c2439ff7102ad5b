"""The reconciler: finds every load step that a crash, a lost message or a restart left behind.

Runs from beat every minute. It never decides an outcome itself: it only puts
work back in motion (re-queues, re-polls, re-collects, re-splits, finishes),
and each step it re-drives is idempotent, so running it at any moment is safe.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter

from workers.errors import DamagedLedgerRecord
from workers.pipeline import control, line
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.runtime import Runtime
from workers.pipeline.submit import pump
from workers.state import keys as redis_keys
from workers.state.ledger import (
    ACTIVE_LOADS,
    TERMINAL_LOAD_STATES,
    ChunkState,
    Ledger,
    LedgerError,
    LoadState,
)
from workers.state.redis_text import text
from workers.telemetry.context import log_context

logger = logging.getLogger(__name__)

STALE_POLLS = 3  # a submitted chunk unpolled for this many max intervals lost its poll


def reconcile(rt: Runtime, dispatch: Dispatcher) -> dict[str, int]:
    """One sweep over the active loads and the instance's permits; returns what it re-drove."""
    counts: Counter[str] = Counter()
    for raw in rt.redis.smembers(ACTIVE_LOADS):
        load_id = text(raw)
        try:
            with log_context(load_id=load_id):
                _reconcile_load(rt, dispatch, load_id, counts)
        except DamagedLedgerRecord as error:  # one unreadable record must not stop the sweep
            logger.error("reconcile skipped load_id=%s: %s", load_id, error)
            counts["damaged"] += 1
    for chunk_id in [expired for lane in rt.lanes for expired in lane.expired()]:
        try:
            _reconcile_permit(rt, dispatch, chunk_id, counts)
        except DamagedLedgerRecord as error:
            logger.error("reconcile skipped the permit of %s: %s", chunk_id, error)
            counts["damaged"] += 1
    counts["granted"] += len(pump(rt, dispatch))
    if any(counts.values()):
        logger.info("reconciled %s", dict(counts))
    return dict(counts)


def _reconcile_load(rt: Runtime, dispatch: Dispatcher, load_id: str, counts: Counter[str]) -> None:
    load = rt.ledger.load(load_id)
    if load.state in TERMINAL_LOAD_STATES:
        rt.redis.srem(ACTIVE_LOADS, load_id)
        return
    if load.resuming and (resumed := control.put_back(rt, dispatch, load_id)):
        counts["resumed"] += resumed  # a resume whose worker died before its put-back
    load = rt.ledger.load(load_id) if load.resuming else load
    state = load.state
    splitting = state == LoadState.SPLITTING or (
        state == LoadState.CANCELLING and load.chunks_total is None  # where did it stop?
    )
    if state == LoadState.PENDING or (
        splitting and not rt.redis.exists(redis_keys.split_lease(load_id))
    ):
        dispatch.split(load_id)
        counts["split"] += 1
    if state == LoadState.CANCELLING and (cancelled := line.cancel_waiting(rt, dispatch, load_id)):
        counts["cancelled"] += len(cancelled)  # what was still in line is not sent
    now = time.time()
    stale_s = STALE_POLLS * rt.settings.poll_max_s
    for chunk in rt.ledger.chunks(load_id):
        index = chunk.index
        chunk_id = chunk.chunk_id
        age = now - chunk.updated_at
        held = rt.lane(chunk_id).holds(chunk_id)
        if chunk.state == ChunkState.WAITING:
            if held:  # granted, but the grantor died before moving it on
                rt.ledger.move_chunk(load_id, index, [ChunkState.WAITING], ChunkState.SUBMITTING)
                dispatch.submit(load_id, index)
                counts["submit"] += 1
            elif rt.lane(chunk_id).enqueue(chunk_id):
                counts["requeued"] += 1
        elif chunk.state == ChunkState.SUBMITTING and age > stale_s:
            if not rt.redis.exists(redis_keys.submit_lock(chunk_id)):
                dispatch.submit(load_id, index)
                counts["submit"] += 1
        elif chunk.state == ChunkState.SUBMITTED and age > stale_s:
            token = uuid.uuid4().hex
            moved = rt.ledger.move_chunk(
                load_id, index, [ChunkState.SUBMITTED], ChunkState.SUBMITTED, {"poll_token": token}
            )
            if moved.applied:
                dispatch.poll(load_id, index, token, countdown=0)
                counts["poll"] += 1
        elif chunk.state == ChunkState.COLLECTING and age > stale_s:
            dispatch.collect(load_id, index)
            counts["collect"] += 1
    if state in (LoadState.LOADING, LoadState.CANCELLING):
        dispatch.finish(load_id)


def _reconcile_permit(
    rt: Runtime, dispatch: Dispatcher, chunk_id: str, counts: Counter[str]
) -> None:
    """A permit whose lease ran out: keep it while its job may be in Marketo, else free it."""
    load_id, index = Ledger.parse_chunk_id(chunk_id)
    state: ChunkState | None
    try:
        state = rt.ledger.chunk(load_id, index).state
    except LedgerError:  # the load is gone: nothing can be running for it
        state = None
    if state in (ChunkState.SUBMITTED, ChunkState.SUBMITTING):
        rt.lane(chunk_id).renew(chunk_id)  # its job may be queued; the poll/submit path frees it
        counts["renewed"] += 1
    elif state != ChunkState.WAITING:
        rt.lane(chunk_id).release(chunk_id)
        counts["released"] += 1
