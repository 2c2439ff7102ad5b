"""A chunk back in its load's line, or, when its load was cancelled, out of it for good.

The admission queues nothing of a cancelled load (its line is closed), so a chunk
that goes back to ``waiting`` after its load was cancelled (its POST surely did
not happen, Marketo said 1016, a permit was taken back) is cancelled here at
once, in the same step that takes the load's other waiting chunks out of line.
"""

from __future__ import annotations

import logging

from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.runtime import Runtime
from workers.state.admission import load_of

logger = logging.getLogger(__name__)


def enqueue(rt: Runtime, dispatch: Dispatcher, chunk_id: str) -> bool:
    """Put a waiting chunk without a permit in line; False if it was not queued (it was in
    line already, or its load was cancelled and it is cancelled now)."""
    if rt.lane(chunk_id).enqueue(chunk_id):
        return True
    cancel_waiting(rt, dispatch, load_of(chunk_id))
    return False


def cancel_waiting(rt: Runtime, dispatch: Dispatcher, load_id: str) -> list[int]:
    """If the load is cancelling: its waiting chunks out of line and cancelled (idempotent)."""
    cancelled = rt.load_lane(load_id).cancel_waiting(load_id)
    if cancelled:
        logger.info("cancelled load_id=%s chunks=%s: not sent", load_id, _ranges(cancelled))
        dispatch.finish(load_id)
    return cancelled


def _ranges(indexes: list[int]) -> str:
    """``0-4,7,9-10``: a log line stays short however many chunks a load has."""
    parts: list[str] = []
    start = previous = indexes[0]
    for index in [*indexes[1:], None]:
        if index is not None and index == previous + 1:
            previous = index
            continue
        parts.append(f"{start}" if start == previous else f"{start}-{previous}")
        if index is not None:
            start = previous = index
    return ",".join(parts)
