"""The Data Ingestion API's limits, shared by every worker through Redis.

They are not the REST API's: Marketo counts requests per second per client id
and objects per day per subscription, and a 429 from this API says nothing
about REST calls. So they get their own keys and one Lua script, decided
atomically for each request: a shared hold-off after Marketo's 429 ``429001``,
room in the one-second window, and our share of the day's objects (counted as
the request is let through, before it is sent, so two workers cannot both take
the last of it).
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis

from workers import defaults
from workers.errors import BudgetTimeout, DailyQuotaExhausted
from workers.marketo.budgets import DAILY_KEY_TTL_S, POLL_CAP_S, marketo_day, next_reset
from workers.state import keys as redis_keys
from workers.state import scripts

WINDOW_S = 1.0  # Marketo states the request limit per second


@dataclass(frozen=True)
class IngestionLimits:
    """Our share of the Data Ingestion API's limits (defaults: half of Marketo's)."""

    requests_per_s: int = defaults.MARKETO_INGESTION_REQUESTS_PER_S
    daily_objects: int = defaults.MARKETO_INGESTION_DAILY_OBJECTS


class IngestionBudgets:
    """The gate every Data Ingestion request passes through.

    ``server_time`` as in :class:`workers.marketo.budgets.Budgets`: the window
    uses the Redis server's clock (the one all hosts share) unless tests drive
    it with ``clock``.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        instance: str,
        client_id: str,
        limits: IngestionLimits,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        server_time: bool = True,
    ) -> None:
        self.redis = redis_client
        self.instance = instance
        self.client_id = client_id
        self.limits = limits
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.server_time = server_time
        self._acquire = scripts.register(
            redis_client, "workers.marketo", "budget_now", "ingestion_acquire"
        )
        self._hold_off = scripts.register(
            redis_client, "workers.marketo", "budget_now", "budget_hold_off"
        )
        self._refund = scripts.register(redis_client, "workers.marketo", "ingestion_refund")
        self._holder_base = f"{socket.gethostname()}:{os.getpid()}"

    def daily_key(self, ts: float | None = None) -> str:
        day = marketo_day(self.clock() if ts is None else ts)
        return redis_keys.ingestion_daily_objects(self.instance, day.isoformat())

    def try_acquire(self, objects: int) -> tuple[bool, float]:
        """One atomic attempt for a request of ``objects``: granted, or how long to wait.

        Raises :class:`DailyQuotaExhausted` (with ``resets_at``) when the request would
        go past our share of the day's objects.
        """
        now = self.clock()
        holder = f"{self._holder_base}:{uuid.uuid4().hex}"
        answer = self._acquire(
            keys=[
                redis_keys.ingestion_rate(self.client_id),
                self.daily_key(now),
                redis_keys.ingestion_holdoff(self.client_id),
            ],
            args=[
                -1.0 if self.server_time else now,
                holder,
                self.limits.requests_per_s,
                WINDOW_S,
                objects,
                self.limits.daily_objects,
                DAILY_KEY_TTL_S,
            ],
        )
        status, value = int(answer[0]), float(answer[1])
        if status == 0:
            return True, 0.0
        if status == 4:
            raise DailyQuotaExhausted(
                "ingestion-quota",
                f"our share of the Data Ingestion API's daily objects is used ({int(value):,} "
                f"of {self.limits.daily_objects:,}; this request has {objects:,}); "
                "resets at midnight America/Chicago",
                resets_at=next_reset(now),
            )
        wait = max(value, 0.001)
        return False, wait if status == 1 else min(wait, POLL_CAP_S)

    def acquire(self, objects: int, *, timeout_s: float) -> None:
        """Wait until a request of ``objects`` may go; BudgetTimeout after ``timeout_s``."""
        start = time.monotonic()
        while True:
            granted, wait = self.try_acquire(objects)
            if granted:
                return
            if time.monotonic() - start + wait > timeout_s:
                raise BudgetTimeout(
                    "budget",
                    f"no Data Ingestion request slot became free within {timeout_s:.0f}s",
                )
            self.sleep(wait * (1.0 + 0.2 * self.rng.random()))  # spread the herd

    def refund(self, objects: int) -> None:
        """A request that surely never left: its objects do not count against the day."""
        self._refund(keys=[self.daily_key()], args=[objects])

    def hold_off(self, seconds: float) -> None:
        """After Marketo's 429 ``429001``: no worker of this client id sends for ``seconds``."""
        self._hold_off(
            keys=[redis_keys.ingestion_holdoff(self.client_id)],
            args=[-1.0 if self.server_time else self.clock(), seconds],
        )

    def mark_daily_exhausted(self) -> None:
        """After Marketo's ``4290801``: every worker stops sending until the day resets."""
        self.redis.set(self.daily_key(), self.limits.daily_objects, ex=DAILY_KEY_TTL_S)

    def daily_count(self) -> int:
        """Objects counted so far in the current Marketo day, by every worker."""
        value = self.redis.get(self.daily_key())
        return int(value) if value is not None else 0
