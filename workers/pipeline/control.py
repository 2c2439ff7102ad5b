"""Cancelling and resuming a load: the steps the workers run after the request.

The request itself (``workers/state/control.py``) is one atomic step in Redis
that the command line may already have made; running it again here does
nothing more. A worker killed anywhere in these steps leaves nothing the
reconciler does not finish: it takes a cancelling load's waiting chunks out
of line on every sweep, and puts a resuming load's chunks back in line.
"""

from __future__ import annotations

import logging
from typing import Any

from workers.errors import LedgerError
from workers.pipeline import line
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.runtime import Runtime
from workers.state.control import LoadControl, Outcome
from workers.state.ledger import Chunk, ChunkState, LoadState, Transition

logger = logging.getLogger(__name__)


def cancel(rt: Runtime, dispatch: Dispatcher, load_id: str) -> dict[str, Any]:
    """Cancel the load: nothing more is sent, its jobs in Marketo finish; what it did."""
    try:
        answer = LoadControl(rt.redis).request_cancel(load_id)
    except LedgerError:
        return _no_such_load(load_id)
    logger.info("cancel load_id=%s: %s", load_id, answer.outcome.value)
    if answer.state == LoadState.CANCELLING:
        line.cancel_waiting(rt, dispatch, load_id)
        dispatch.finish(load_id)
    return answer.as_dict()


def resume(rt: Runtime, dispatch: Dispatcher, load_id: str) -> dict[str, Any]:
    """Resume a cancelled or failed load: its unsent and failed chunks back in line."""
    try:
        answer = LoadControl(rt.redis).request_resume(load_id)
    except LedgerError:
        return _no_such_load(load_id)
    logger.info("resume load_id=%s: %s", load_id, answer.outcome.value)
    if answer.outcome != Outcome.REFUSED:
        put_back(rt, dispatch, load_id)  # also finishes a resume whose worker died
    return answer.as_dict()


def put_back(rt: Runtime, dispatch: Dispatcher, load_id: str) -> int:
    """A resuming load's cancelled and failed chunks back in line; how many (idempotent).

    Chunks done are not touched, so nothing completed is sent again. A chunk
    this resume already put back (and that may have failed again since) is
    left as it is. ``resuming`` is cleared last, so a crash before that
    leaves the work to the next run of this step (the reconciler's).
    """
    load = rt.ledger.load(load_id)
    if not load.resuming:
        return 0
    if load.state == LoadState.CANCELLING:  # cancelled again meanwhile: the cancel wins
        rt.ledger.clear_load_fields(load_id, "resuming")
        dispatch.finish(load_id)
        return 0
    queued = 0
    for chunk in rt.ledger.chunks(load_id):
        if chunk.resumed_in >= load.resumes and chunk.state != ChunkState.WAITING:
            continue
        moved = _back_to_waiting(rt, chunk, load.resumes)
        chunk_id = chunk.chunk_id
        waiting = moved.applied or chunk.state == ChunkState.WAITING
        if waiting and not rt.lane(chunk_id).holds(chunk_id):
            queued += line.enqueue(rt, dispatch, chunk_id)
    rt.ledger.clear_load_fields(load_id, "resuming")
    logger.info("resumed load_id=%s: %d chunks back in line", load_id, queued)
    if load.state == LoadState.SPLITTING:
        dispatch.split(load_id)  # the rest of the source, after where the cancel stopped it
    dispatch.pump()
    dispatch.finish(load_id)
    return queued


def _back_to_waiting(rt: Runtime, chunk: Chunk, resume: int) -> Transition:
    """A cancelled or failed chunk back to waiting, its load's counts taken back with it."""
    load_id, index = chunk.load_id, chunk.index
    if chunk.state == ChunkState.CANCELLED:
        return rt.ledger.move_chunk(
            load_id,
            index,
            [ChunkState.CANCELLED],
            ChunkState.WAITING,
            {"message": "", "resumed_in": resume},
            {"chunks_cancelled": -1, "rows_cancelled": -chunk.rows},
        )
    if chunk.state == ChunkState.FAILED and not chunk.not_submitted:
        attempts = chunk.attempts or 1
        return rt.ledger.move_chunk(
            load_id,
            index,
            [ChunkState.FAILED],
            ChunkState.WAITING,
            {
                "attempts": attempts + 1,
                "attempts_before_resume": attempts,  # a fresh JOB_MAX_ATTEMPTS for it
                "resumed_in": resume,
                "batch_id": "",
                "status": "",
                "importing_since": "",  # the next job's own start, for its polls
                "message": "",
                "last_failure": chunk.message or chunk.last_failure or "",
                "failures_uri": "",
                "warnings_uri": "",
                "post_started_at": "",
            },
            {"chunks_failed": -1, "rows_in_failed_jobs": -chunk.rows},
        )
    return Transition(applied=False, found=chunk.state.value)


def _no_such_load(load_id: str) -> dict[str, Any]:
    return {"load_id": load_id, "outcome": Outcome.REFUSED.value, "state": None,
            "message": f"no load {load_id!r}"}  # fmt: skip
