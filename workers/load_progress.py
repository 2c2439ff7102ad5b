"""When each recent load last moved, read from the ledger for ``mkto-bulk metrics``.

A load's own ``updated_at`` changes only when the load changes state: while it is
``loading`` for hours, its chunks are what move (submitted, collected, done), and
only their records say so. A live load has moved when it, or any of its chunks,
last changed; a load waiting for the daily quota is not quiet before the reset it
waits for, so its quiet time starts at that reset. An ended load's time is when it
finished.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from workers.state import keys as redis_keys
from workers.state.ledger import TERMINAL_LOAD_STATES
from workers.state.redis_text import text

_LOAD_FIELDS = (
    "state",
    "updated_at",
    "created_at",
    "waiting_reason",
    "waiting_until",
    "finished_at",
)


@dataclass(frozen=True)
class LoadTimes:
    """One load as the metrics see it: its state and when it last moved."""

    load_id: str
    state: str
    moved_at: float  # live: the latest change of the load or a chunk, or the reset it waits for
    waiting_reason: str | None = None
    ended_at: float | None = None  # ended: when it finished (or its last change)

    @property
    def live(self) -> bool:
        return self.state not in TERMINAL_LOAD_STATES


def _time(raw: bytes | str | None) -> float | None:
    """A time field as a number; None when absent, cleared or not a finite number."""
    if raw is None:
        return None
    try:
        value = float(text(raw))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_loads(client: redis.Redis, load_ids: Sequence[str], now: float) -> list[LoadTimes]:
    """The loads' states and times: three pipelined rounds, chunks read only for live loads."""
    pipe = client.pipeline(transaction=False)
    for load_id in load_ids:
        pipe.hmget(redis_keys.load(load_id), *_LOAD_FIELDS)
    loads: list[tuple[str, str, float, str | None, float | None, float | None]] = []
    for load_id, fields in zip(load_ids, pipe.execute(), strict=True):
        state_raw, updated, created, reason, waiting_until, finished = fields
        if state_raw is None:
            continue
        changed = _time(updated) or _time(created) or now
        reason_text = text(reason) if reason else None
        until = _time(waiting_until) if reason_text else None
        loads.append((load_id, text(state_raw), changed, reason_text, until, _time(finished)))
    live = [load for load in loads if load[1] not in TERMINAL_LOAD_STATES]
    for load_id, *_ in live:
        pipe.smembers(redis_keys.load_chunks(load_id))
    indexes = dict(zip((load[0] for load in live), pipe.execute(), strict=True))
    for load_id, *_ in live:
        for index in indexes[load_id]:
            pipe.hget(redis_keys.chunk(load_id, int(text(index))), "updated_at")
    chunk_times = iter(pipe.execute())
    result = []
    for load_id, state, changed, reason, until, finished in loads:
        if state in TERMINAL_LOAD_STATES:
            result.append(LoadTimes(load_id, state, changed, reason, finished or changed))
            continue
        moved = [changed] + [_time(next(chunk_times)) or 0.0 for _ in indexes[load_id]]
        if until is not None:
            moved.append(min(until, now))  # waiting for the reset is not being stuck
        result.append(LoadTimes(load_id, state, max(moved), reason))
    return result
