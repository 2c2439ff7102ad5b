"""Admission control: at most N outstanding Marketo import jobs per instance, across all workers.

State lives in Redis and every change is one Lua script, so any number of
worker processes on any number of hosts see one consistent picture:

- ``waiting``: a sorted set of chunk ids scored by a global sequence number,
  i.e. one FIFO across every load on the instance;
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

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from workers.settings import MARKETO_MAX_OUTSTANDING_JOBS
from workers.state import keys as redis_keys
from workers.state import scripts
from workers.state.redis_text import text

DEFAULT_PERMIT_LEASE_S = 300.0

GHOST_PREFIX = "ghost:"


@dataclass(frozen=True)
class AdmissionSnapshot:
    """What an operator (or a test) needs to see of one instance's admission state."""

    outstanding: int
    waiting: int
    hold_s: float


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
        self._max = max_outstanding
        self._lease_ms = int(lease_s * 1000)
        self._clock = clock
        self._waiting = redis_keys.admission_waiting(instance)
        self._permits = redis_keys.admission_permits(instance)
        self._hold = redis_keys.admission_hold(instance)
        self._sequence = redis_keys.admission_sequence(instance)
        self._grant = scripts.register(client, "workers.state", "admission_grant")
        self._enqueue = scripts.register(client, "workers.state", "admission_enqueue")
        self._requeue_front = scripts.register(client, "workers.state", "admission_requeue_front")
        self._renew = scripts.register(client, "workers.state", "admission_renew")

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def enqueue(self, chunk_id: str) -> bool:
        """Put a chunk in line; False if it is already waiting or holds a permit."""
        keys = [self._waiting, self._permits, self._sequence]
        return bool(self._enqueue(keys=keys, args=[chunk_id]))

    def grant(self, limit: int = -1) -> list[str]:
        """Hand permits to the chunks at the head of the line, as many as are free."""
        keys = [self._waiting, self._permits, self._hold]
        granted = self._grant(keys=keys, args=[self._now_ms(), self._max, self._lease_ms, limit])
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
        """Take a chunk out of line without submitting it (its load was cancelled)."""
        return bool(self._redis.zrem(self._waiting, chunk_id))

    def too_many_imports(self, chunk_id: str, hold_s: float) -> None:
        """Marketo said 1016: give the permit back, keep the chunk first in line, hold off."""
        keys = [self._waiting, self._permits, self._hold]
        deadline = self._now_ms() + int(hold_s * 1000)
        self._requeue_front(keys=keys, args=[chunk_id, deadline])

    def requeue_front(self, chunk_id: str) -> None:
        """Give the permit back and keep the chunk first in line (it waits for the daily quota)."""
        keys = [self._waiting, self._permits, self._hold]
        self._requeue_front(keys=keys, args=[chunk_id, 0])

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
        pipe.zcard(self._waiting)
        pipe.get(self._hold)
        outstanding, waiting, hold = pipe.execute()
        hold_s = max(0.0, (int(hold or 0) - self._now_ms()) / 1000)
        return AdmissionSnapshot(int(outstanding), int(waiting), hold_s)
