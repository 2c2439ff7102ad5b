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

logger = logging.getLogger(__name__)

MARKETO_TZ = ZoneInfo("America/Chicago")
DAILY_KEY_TTL_S = 3 * 24 * 3600
POLL_CAP_S = 0.1  # a permit can come free at any moment: re-check often, briefly

_NOW = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

# KEYS: rate, inflight, holdoff, daily, quota override. ARGV: now, holder, rate_limit,
# window, max_concurrent, lease, daily_limit, daily_ttl, count_daily (0 for identity
# calls), reserve. The override (``mkto-bulk quota set``) replaces the configured daily
# quota at once for every worker; the reserve still applies.
# Returns {status, value, limit}: 0 granted (value = daily count), 1 hold-off,
# 2 concurrency, 3 rate (value = seconds to wait), 4 daily share used (value = count).
_ACQUIRE = (
    _NOW
    + """
local holder, rate_limit, window = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local max_concurrent, lease = tonumber(ARGV[5]), tonumber(ARGV[6])
local daily_limit, daily_ttl = tonumber(ARGV[7]), tonumber(ARGV[8])
local count_daily = ARGV[9] == '1'
local override = redis.call('GET', KEYS[5])
if override then daily_limit = math.max(0, tonumber(override) - tonumber(ARGV[10])) end
local holdoff = tonumber(redis.call('GET', KEYS[3]) or '0')
if holdoff > now then return {1, tostring(holdoff - now)} end
local used = tonumber(redis.call('GET', KEYS[4]) or '0')
if count_daily and used >= daily_limit then
  return {4, tostring(used), tostring(daily_limit)}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= max_concurrent then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, tostring(tonumber(first[2]) - now)}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= rate_limit then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {3, tostring(tonumber(first[2]) + window - now)}
end
redis.call('ZADD', KEYS[2], now + lease, holder)
redis.call('ZADD', KEYS[1], now + lease, holder)
redis.call('PEXPIRE', KEYS[2], math.ceil(lease * 1000) + 1000)
redis.call('PEXPIRE', KEYS[1], math.ceil((lease + window) * 1000) + 1000)
if not count_daily then return {0, tostring(used)} end
local count = redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], daily_ttl)
return {0, tostring(count)}
"""
)

# KEYS: rate, inflight. ARGV: now, holder, window. Returns 1 if the lease was still held.
_RELEASE = (
    _NOW
    + """
local held = redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 1000) + 1000)
return held
"""
)

# KEYS: holdoff. ARGV: now, seconds. Moves the shared hold-off later, never earlier.
_HOLD_OFF = (
    _NOW
    + """
local ends = now + tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if ends > current then
  redis.call('SET', KEYS[1], tostring(ends), 'PX', math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
  return tostring(ends)
end
return tostring(current)
"""
)

# KEYS: daily, quota override. ARGV: limit, ttl, reserve. Marks today's share as used
# (after Marketo's own 607).
_EXHAUST = """
local limit = tonumber(ARGV[1])
local override = redis.call('GET', KEYS[2])
if override then limit = math.max(0, tonumber(override) - tonumber(ARGV[3])) end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used < limit then redis.call('SET', KEYS[1], limit, 'EX', ARGV[2]) end
return 1
"""


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
        self.prefix = f"mkto:{instance}"
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.server_time = server_time
        self._acquire = redis_client.register_script(_ACQUIRE)
        self._release = redis_client.register_script(_RELEASE)
        self._hold_off = redis_client.register_script(_HOLD_OFF)
        self._exhaust = redis_client.register_script(_EXHAUST)
        self._holder_base = f"{socket.gethostname()}:{os.getpid()}"

    # Keys ---------------------------------------------------------------
    @property
    def rate_key(self) -> str:
        return f"{self.prefix}:rate"

    @property
    def inflight_key(self) -> str:
        return f"{self.prefix}:inflight"

    @property
    def holdoff_key(self) -> str:
        return f"{self.prefix}:holdoff"

    @property
    def quota_override_key(self) -> str:
        return f"{self.prefix}:daily_quota_override"

    def daily_key(self, ts: float | None = None) -> str:
        day = marketo_day(self.clock() if ts is None else ts)
        return f"{self.prefix}:daily:{day.isoformat()}"

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
            keys=[*keys, self.quota_override_key],
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
            raise DailyQuotaExhausted(
                "quota",
                f"our share of the daily API quota is used ({int(value)} of "
                f"{int(answer[2])} calls, {limits.daily_quota_reserve} kept in reserve); "
                f"resets at midnight America/Chicago",
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
        """Our share in force: the daily quota (setting or override) minus the reserve."""
        quota, _ = self.daily_quota()
        return max(0, quota - self.limits.daily_quota_reserve)

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
