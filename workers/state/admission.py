"""Admission control: at most N outstanding Marketo import jobs per instance, across all workers.

State lives in Redis and every change is one Lua script, so any number of
worker processes on any number of hosts see one consistent picture:

- a ``line`` per load: a sorted set of its chunk ids waiting for a permit, scored
  by a sequence number (its chunks go in the order they were split);
- a ``ring`` per priority (``workers/priority.py``): a sorted set of the loads
  with chunks waiting, scored by the sequence number of their last grant. Permits
  go to the highest priority with chunks waiting, and within it round-robin: each
  grant takes the first chunk of the load granted longest ago, which then goes to
  the back of its ring. A load joins its ring at the back. Its priority is its
  payload's, read from its ledger record by the scripts, and so is its state: a
  cancelled load's line is closed (nothing queued, nothing granted), and
  ``cancel_waiting`` takes what is left in it out at once;
- ``permits``: a sorted set of chunk ids holding a permit, scored by the lease
  deadline (epoch ms). A permit is taken before the POST and returned when a
  poll sees the job terminal;
- ``hold_until``: after a ``1016 Too many imports`` nobody is granted anything
  until this time, because Marketo's queue is full for everyone.

A lease that runs out does not free its permit by itself: the job it stands for
may still be Queued or Importing in Marketo, and freeing it could overrun the
queue. Expired leases are listed for the reconciler, which checks the job and
then releases or renews the permit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from redis.commands.core import Script

from workers.priority import DEFAULT_PRIORITY, GRANT_ORDER
from workers.settings import MARKETO_MAX_OUTSTANDING_JOBS
from workers.state import keys as redis_keys
from workers.state import scripts
from workers.state.records import CLOSED_LOAD_STATES, ChunkState, LoadState
from workers.state.redis_text import text

DEFAULT_PERMIT_LEASE_S = 300.0

GHOST_PREFIX = "ghost:"
PRIORITY_NAMES = json.dumps([p.value for p in GRANT_ORDER])
CLOSED = json.dumps([state.value for state in CLOSED_LOAD_STATES])
CANCELLED_MESSAGE = "not sent: the load was cancelled"


@dataclass(frozen=True)
class AdmissionSnapshot:
    """What an operator (or a test) needs to see of one instance's admission state."""

    outstanding: int
    waiting: int
    hold_s: float
    # Chunks waiting, and loads with chunks waiting, by priority (every priority named).
    waiting_by_priority: dict[str, int] = field(default_factory=dict)
    loads_waiting_by_priority: dict[str, int] = field(default_factory=dict)


class Admission:
    """The per-instance permit pool; every method is safe to call twice (idempotent)."""

    def __init__(
        self,
        client: redis.Redis,
        instance: str,
        max_outstanding: int = MARKETO_MAX_OUTSTANDING_JOBS,
        lease_s: float = DEFAULT_PERMIT_LEASE_S,
        clock: Callable[[], float] = time.time,
        ceiling: int = MARKETO_MAX_OUTSTANDING_JOBS,
    ) -> None:
        # ``ceiling``: Marketo's 10 jobs for bulk import; another API's lane sets its own.
        if not 1 <= max_outstanding <= ceiling:
            raise ValueError(f"max_outstanding must be 1..{ceiling}")
        self._redis = client
        self._instance = instance
        self._max = max_outstanding
        self._lease_ms = int(lease_s * 1000)
        self._clock = clock
        self._legacy_waiting = redis_keys.admission_waiting(instance)
        self._lines = redis_keys.admission_line_prefix(instance)
        self._rings = redis_keys.admission_ring_prefix(instance)
        self._permits = redis_keys.admission_permits(instance)
        self._hold = redis_keys.admission_hold(instance)
        self._sequence = redis_keys.admission_sequence(instance)

        def script(name: str) -> Script:
            return scripts.register(client, "workers.state", "admission_lines", name)

        self._grant = script("admission_grant")
        self._enqueue = script("admission_enqueue")
        self._requeue_front = script("admission_requeue_front")
        self._withdraw = script("admission_withdraw")
        self._waiting = script("admission_waiting")
        self._cancel_waiting = script("admission_cancel_waiting")
        self._renew = scripts.register(client, "workers.state", "admission_renew")

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def line_key(self, load_id: str) -> str:
        return redis_keys.admission_line(self._instance, load_id)

    def enqueue(self, chunk_id: str) -> bool:
        """Put a chunk at the back of its load's line; False if it is already in line, holds
        a permit, or its load was cancelled (its line is closed: see ``cancel_waiting``)."""
        load_id = load_of(chunk_id)
        keys = [self._permits, self._sequence, self.line_key(load_id), redis_keys.load(load_id)]
        args = [chunk_id, load_id, self._rings, PRIORITY_NAMES, DEFAULT_PRIORITY.value, CLOSED]
        return int(self._enqueue(keys=keys, args=args)) == 1

    def cancel_waiting(self, load_id: str, now: float | None = None) -> list[int]:
        """A cancelling load's waiting chunks out of line and cancelled in the ledger, at once.

        Only while the load is ``cancelling``: its line is emptied, and each chunk
        ``waiting`` without a permit becomes ``cancelled`` (its rows counted in the
        load's ``rows_cancelled``). A chunk granted before is left to be submitted, and
        the grant never gives a cancelled load a permit, so a chunk is either sent or
        cancelled, never both. Idempotent; the indexes cancelled now.
        """
        keys = [
            redis_keys.load(load_id), redis_keys.load_chunks(load_id), self._permits,
            self.line_key(load_id),
        ]  # fmt: skip
        args = [
            load_id, redis_keys.chunk_prefix(load_id), self._rings, PRIORITY_NAMES,
            LoadState.CANCELLING.value, ChunkState.WAITING.value, ChunkState.CANCELLED.value,
            repr(self._clock() if now is None else now), CANCELLED_MESSAGE,
        ]  # fmt: skip
        return sorted(int(index) for index in self._cancel_waiting(keys=keys, args=args))

    def grant(self, limit: int = -1) -> list[str]:
        """Hand out free permits: highest priority first, round-robin between its loads."""
        keys = [self._permits, self._hold, self._sequence, self._legacy_waiting]
        args: list[str | int] = [
            self._now_ms(), self._max, self._lease_ms, limit, self._lines, self._rings,
            PRIORITY_NAMES, DEFAULT_PRIORITY.value, redis_keys.LOAD_PREFIX, CLOSED,
        ]  # fmt: skip
        granted = self._grant(keys=keys, args=args)
        return [text(item) for item in granted]

    def holds(self, chunk_id: str) -> bool:
        return self._redis.zscore(self._permits, chunk_id) is not None

    def renew(self, chunk_id: str, lease_s: float | None = None) -> bool:
        """Extend a held permit's lease (every poll does); False if it is not held."""
        lease_ms = self._lease_ms if lease_s is None else int(lease_s * 1000)
        keys = [self._permits]
        return bool(self._renew(keys=keys, args=[chunk_id, self._now_ms() + lease_ms]))

    def release(self, chunk_id: str) -> bool:
        """Return a permit (its job is terminal, or was never created)."""
        return bool(self._redis.zrem(self._permits, chunk_id))

    def withdraw(self, chunk_id: str) -> bool:
        """Take a chunk out of line without submitting it (its load's source failed)."""
        load_id = load_of(chunk_id)
        keys = [self.line_key(load_id)]
        args = [load_id, chunk_id, self._rings, PRIORITY_NAMES]
        return bool(self._withdraw(keys=keys, args=args))

    def too_many_imports(self, chunk_id: str, hold_s: float) -> bool:
        """Marketo said 1016: give the permit back, keep the chunk first in line, hold off.

        False if the chunk's load was cancelled (not put back in line).
        """
        return self._put_first(chunk_id, self._now_ms() + int(hold_s * 1000))

    def requeue_front(self, chunk_id: str) -> bool:
        """Give the permit back and keep the chunk first in line (it waits for the daily quota).

        False if the chunk's load was cancelled (not put back in line).
        """
        return self._put_first(chunk_id, 0)

    def _put_first(self, chunk_id: str, hold_until_ms: int) -> bool:
        load_id = load_of(chunk_id)
        keys = [
            self._permits, self._hold, self._sequence, self.line_key(load_id),
            redis_keys.load(load_id),
        ]  # fmt: skip
        args: list[str | int] = [
            chunk_id, load_id, hold_until_ms, self._rings, PRIORITY_NAMES,
            DEFAULT_PRIORITY.value, CLOSED,
        ]  # fmt: skip
        return int(self._requeue_front(keys=keys, args=args)) == 1

    def hold_ghost(self, chunk_id: str, seconds: float) -> None:
        """Keep a slot for a job that a crashed attempt may have created, for ``seconds``.

        After a crash between the POST and recording its batch id, Marketo may
        run a job we cannot see; its slot stays taken until it should be done.
        """
        deadline = self._now_ms() + int(seconds * 1000)
        self._redis.zadd(self._permits, {GHOST_PREFIX + chunk_id: deadline})

    def expired(self) -> list[str]:
        """Permits whose lease ran out: the reconciler must check their jobs."""
        items = self._redis.zrangebyscore(self._permits, "-inf", self._now_ms())
        names = [text(item) for item in items]
        return [name for name in names if not name.startswith(GHOST_PREFIX)]

    def snapshot(self) -> AdmissionSnapshot:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcard(self._permits)
        pipe.get(self._hold)
        outstanding, hold = pipe.execute()
        counts = self._waiting(keys=[], args=[self._lines, self._rings, PRIORITY_NAMES])
        names = [p.value for p in GRANT_ORDER]
        loads = {name: int(pair[0]) for name, pair in zip(names, counts, strict=True)}
        chunks = {name: int(pair[1]) for name, pair in zip(names, counts, strict=True)}
        hold_s = max(0.0, (int(hold or 0) - self._now_ms()) / 1000)
        return AdmissionSnapshot(int(outstanding), sum(chunks.values()), hold_s, chunks, loads)


def load_of(chunk_id: str) -> str:
    """The load id of a chunk id (``<load id>:<index>``)."""
    return chunk_id.rpartition(":")[0]
