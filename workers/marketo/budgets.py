"""Marketo's shared budgets, enforced in Redis so they hold across every process and host.

Marketo limits an *instance* (all integrations together), so a per-process
limiter is useless once two workers run. One Lua script decides atomically,
for every call: the shared 606 hold-off, our share of the daily quota, calls
in flight (leased permits) and calls per rolling window.

How a call occupies the rate window: from the moment its permit is taken its
timestamp is pushed ahead by the lease (it may reach Marketo at any time while
in flight), and on release it is set to the completion time. Marketo counts the
call somewhere in between, so the window we enforce always contains Marketo's,
whatever the network delay. A killed process's permit and window slot are
reclaimed when its lease ends.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import redis

from workers import defaults
from workers.errors import BudgetTimeout, DailyQuotaExhausted
from workers.state import keys as redis_keys
from workers.state import scripts

logger = logging.getLogger(__name__)

MARKETO_TZ = ZoneInfo("America/Chicago")
DAILY_KEY_TTL_S = 3 * 24 * 3600
POLL_CAP_S = 0.1  # a permit can come free at any moment: re-check often, briefly


def marketo_day(ts: float) -> date:
    """The Marketo day (midnight to midnight, America/Chicago) that contains ``ts``."""
    return datetime.fromtimestamp(ts, MARKETO_TZ).date()


def next_reset(ts: float) -> float:
    """When the daily quota next resets: the following midnight in Chicago, DST-aware."""
    tomorrow = marketo_day(ts) + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=MARKETO_TZ).timestamp()


@dataclass(frozen=True)
class BudgetLimits:
    """Our share of one instance's limits (defaults: half of Marketo's, as it advises)."""

    rate_limit_calls: int = defaults.MARKETO_RATE_LIMIT_CALLS
    rate_limit_window_s: float = defaults.MARKETO_RATE_LIMIT_WINDOW_S
    max_concurrent_calls: int = defaults.MARKETO_MAX_CONCURRENT_CALLS
    call_lease_s: float = defaults.MARKETO_CALL_LEASE_S
    daily_quota: int = defaults.MARKETO_DAILY_QUOTA
    daily_quota_reserve: int = defaults.MARKETO_DAILY_QUOTA_RESERVE

    @property
    def daily_limit(self) -> int:
        return max(0, self.daily_quota - self.daily_quota_reserve)


@dataclass(frozen=True)
class Permit:
    """One granted call slot; give it back with ``Budgets.release``."""

    holder: str
    daily_count: int


class Budgets:
    """The gate every Marketo call passes through, shared by all workers via Redis.

    ``clock`` dates the daily quota and measures waits. Rate and concurrency
    use the Redis server's clock, the one clock all hosts share, unless
    ``server_time`` is false (tests drive them with ``clock`` instead).
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        instance: str,
        limits: BudgetLimits,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        server_time: bool = True,
    ) -> None:
        self.redis = redis_client
        self.limits = limits
        self.instance = instance
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.server_time = server_time
        self._acquire = scripts.register(
            redis_client, "workers.marketo", "budget_now", "budget_acquire"
        )
        self._release = scripts.register(
            redis_client, "workers.marketo", "budget_now", "budget_release"
        )
        self._hold_off = scripts.register(
            redis_client, "workers.marketo", "budget_now", "budget_hold_off"
        )
        self._exhaust = scripts.register(redis_client, "workers.marketo", "budget_exhaust")
        self._holder_base = f"{socket.gethostname()}:{os.getpid()}"

    # Keys ---------------------------------------------------------------
    @property
    def rate_key(self) -> str:
        return redis_keys.call_rate(self.instance)

    @property
    def inflight_key(self) -> str:
        return redis_keys.call_inflight(self.instance)

    @property
    def holdoff_key(self) -> str:
        return redis_keys.call_holdoff(self.instance)

    @property
    def quota_override_key(self) -> str:
        return redis_keys.daily_quota_override(self.instance)

    def daily_key(self, ts: float | None = None) -> str:
        day = marketo_day(self.clock() if ts is None else ts)
        return redis_keys.daily_calls(self.instance, day.isoformat())

    def usage_key(self, ts: float | None = None) -> str:
        """Marketo's usage report of the day (``workers.marketo.usage``): the others' calls."""
        day = marketo_day(self.clock() if ts is None else ts)
        return redis_keys.marketo_usage(self.instance, day.isoformat())

    def _now_arg(self) -> float:
        return -1.0 if self.server_time else self.clock()

    # Calls --------------------------------------------------------------
    def try_acquire(self, *, count_daily: bool = True) -> tuple[Permit | None, float]:
        """One atomic attempt: a permit, or None and how long to wait before the next try."""
        now = self.clock()
        holder = f"{self._holder_base}:{uuid.uuid4().hex}"
        limits = self.limits
        keys = [self.rate_key, self.inflight_key, self.holdoff_key, self.daily_key(now)]
        answer = self._acquire(
            keys=[*keys, self.quota_override_key, self.usage_key(now)],
            args=[
                self._now_arg(),
                holder,
                limits.rate_limit_calls,
                limits.rate_limit_window_s,
                limits.max_concurrent_calls,
                limits.call_lease_s,
                limits.daily_limit,
                DAILY_KEY_TTL_S,
                1 if count_daily else 0,
                limits.daily_quota_reserve,
            ],
        )
        status, value = int(answer[0]), answer[1]
        if status == 0:
            return Permit(holder, int(value)), 0.0
        if status == 4:
            resets_at = next_reset(now)
            others, reserve = int(answer[3]), limits.daily_quota_reserve
            kept = (
                f"other integrations used {others} today, more than the {reserve} kept in reserve"
                if others > reserve
                else f"{reserve} kept in reserve"
            )
            raise DailyQuotaExhausted(
                "quota",
                f"our share of the daily API quota is used ({int(value)} of "
                f"{int(answer[2])} calls, {kept}); resets at midnight America/Chicago",
                resets_at=resets_at,
            )
        wait = max(float(value), 0.001)
        return None, wait if status == 1 else min(wait, POLL_CAP_S)

    def acquire(self, *, timeout_s: float = 300.0, count_daily: bool = True) -> Permit:
        """Wait for a call slot; BudgetTimeout if none comes within ``timeout_s``."""
        start = time.monotonic()
        while True:
            permit, wait = self.try_acquire(count_daily=count_daily)
            if permit is not None:
                return permit
            if time.monotonic() - start + wait > timeout_s:
                raise BudgetTimeout(
                    "budget", f"no Marketo call slot became free within {timeout_s:.0f}s"
                )
            self.sleep(wait * (1.0 + 0.2 * self.rng.random()))  # spread the herd

    def release(self, permit: Permit) -> bool:
        """Give the slot back; False if the lease had already expired (the call overran it)."""
        held = self._release(
            keys=[self.rate_key, self.inflight_key],
            args=[self._now_arg(), permit.holder, self.limits.rate_limit_window_s],
        )
        return bool(held)

    def hold_off(self, seconds: float) -> float:
        """After a 606: no worker calls for ``seconds`` (returns the hold-off's end)."""
        return float(self._hold_off(keys=[self.holdoff_key], args=[self._now_arg(), seconds]))

    def mark_daily_exhausted(self) -> None:
        """After Marketo's own 607: every worker stops until the Marketo day resets."""
        self._exhaust(
            keys=[self.daily_key(), self.quota_override_key],
            args=[self.limits.daily_limit, DAILY_KEY_TTL_S, self.limits.daily_quota_reserve],
        )

    # The daily quota, as configured or as overridden for every worker -------
    def daily_quota(self) -> tuple[int, bool]:
        """The daily quota in force, and whether it is an override (not the setting)."""
        value = self.redis.get(self.quota_override_key)
        if value is None:
            return self.limits.daily_quota, False
        return int(value), True

    def daily_limit(self) -> int:
        """Our share in force: the daily quota (setting or override) minus the reserve, or
        minus what other integrations used today when that is more (Marketo's usage report)."""
        quota, _ = self.daily_quota()
        return max(0, quota - max(self.limits.daily_quota_reserve, self.others_today()))

    def others_today(self) -> int:
        """Calls other integrations made today, as Marketo's usage report last said (0: unread)."""
        value = self.redis.hget(self.usage_key(), "others")
        return int(value) if value is not None else 0

    def set_daily_quota(self, quota: int | None) -> None:
        """Override the configured daily quota for every worker at once (None: back to it).

        Read on every call, so waiting loads resume on their next look without a restart.
        """
        if quota is None:
            self.redis.delete(self.quota_override_key)
        else:
            self.redis.set(self.quota_override_key, int(quota))

    # Visibility ---------------------------------------------------------
    def daily_count(self) -> int:
        """Calls counted so far in the current Marketo day, by every worker."""
        value = self.redis.get(self.daily_key())
        return int(value) if value is not None else 0

    def in_flight(self) -> int:
        """Permits currently leased (expired leases are not counted)."""
        now = self.clock() if not self.server_time else _server_now(self.redis)
        return int(self.redis.zcount(self.inflight_key, f"({now}", "+inf"))


def _server_now(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return float(seconds) + float(micros) / 1_000_000
