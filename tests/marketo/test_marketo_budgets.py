"""The shared budgets' Lua scripts against a real Redis, driven by an injected clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import redis

from tests.marketo_helpers import FakeClock
from workers.errors import BudgetTimeout, DailyQuotaExhausted
from workers.marketo.budgets import BudgetLimits, Budgets, marketo_day, next_reset


def budgets(redis_url: str, clock: FakeClock, **limits: Any) -> Budgets:
    return Budgets(
        redis.Redis.from_url(redis_url),
        "unit",
        BudgetLimits(**limits),
        clock=clock,
        sleep=clock.sleep,
        server_time=False,
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def test_rate_window_admits_the_limit_then_waits_for_the_oldest_call(redis_url: str) -> None:
    clock = FakeClock()
    gate = budgets(redis_url, clock, rate_limit_calls=3, rate_limit_window_s=10)
    for _ in range(3):
        permit, _ = gate.try_acquire()
        assert permit is not None
        gate.release(permit)
        clock.advance(1)
    permit, wait = gate.try_acquire()
    assert permit is None
    # The first call completed at t0; it leaves the window at t0 + 10 (now is t0 + 3).
    assert wait == pytest.approx(0.1)  # capped: re-check soon, a slot may free up
    clock.advance(6.999)
    assert gate.try_acquire()[0] is None
    clock.advance(0.002)
    assert gate.try_acquire()[0] is not None


def test_a_call_in_flight_counts_in_the_window_until_it_completes(redis_url: str) -> None:
    clock = FakeClock()
    gate = budgets(redis_url, clock, rate_limit_calls=1, rate_limit_window_s=2, call_lease_s=30)
    permit, _ = gate.try_acquire()
    assert permit is not None
    clock.advance(5)  # a slow call: longer than the window, still running
    assert gate.try_acquire()[0] is None
    gate.release(permit)  # completed now: occupies the window for 2 more seconds
    clock.advance(1.9)
    assert gate.try_acquire()[0] is None
    clock.advance(0.2)
    assert gate.try_acquire()[0] is not None


def test_concurrency_permits_are_leased_and_reclaimed_when_the_lease_ends(
    redis_url: str,
) -> None:
    clock = FakeClock()
    gate = budgets(redis_url, clock, max_concurrent_calls=2, call_lease_s=5)
    first, _ = gate.try_acquire()
    second, _ = gate.try_acquire()
    assert first is not None and second is not None
    assert gate.in_flight() == 2
    assert gate.try_acquire()[0] is None
    gate.release(second)
    third, _ = gate.try_acquire()
    assert third is not None
    # ``first`` and ``third`` are never released (their holder was killed).
    clock.advance(4.9)
    assert gate.try_acquire()[0] is None
    clock.advance(0.2)  # first's lease ended at 5.0; third's ends at 5.0 too
    assert gate.try_acquire()[0] is not None
    assert gate.release(first) is False  # a release after the lease reports the overrun


def test_hold_off_stops_every_caller_and_only_moves_later(redis_url: str) -> None:
    clock = FakeClock()
    gate = budgets(redis_url, clock)
    other = budgets(redis_url, clock)  # another worker, same instance
    ends = gate.hold_off(20)
    assert ends == pytest.approx(clock.now + 20)
    assert gate.hold_off(5) == pytest.approx(ends)  # an earlier end never shortens it
    permit, wait = other.try_acquire()
    assert permit is None
    assert wait == pytest.approx(20)
    clock.advance(20.01)
    assert other.try_acquire()[0] is not None


def test_acquire_waits_with_the_injected_sleep_and_times_out(redis_url: str) -> None:
    clock = FakeClock()
    gate = budgets(redis_url, clock, rate_limit_calls=1, rate_limit_window_s=1)
    permit = gate.acquire()
    gate.release(permit)
    gate.acquire()  # sleeps (fake) until the first call leaves the window
    assert clock.slept and sum(clock.slept) >= 1.0
    gate.hold_off(600)
    with pytest.raises(BudgetTimeout):
        gate.acquire(timeout_s=60)


def test_daily_quota_keeps_the_reserve_free_and_counts_visibly(redis_url: str) -> None:
    clock = FakeClock(utc(2026, 6, 15, 12))
    gate = budgets(redis_url, clock, daily_quota=5, daily_quota_reserve=2)
    for expected in (1, 2, 3):
        permit = gate.acquire()
        assert permit.daily_count == expected
        gate.release(permit)
    assert gate.daily_count() == 3
    with pytest.raises(DailyQuotaExhausted) as raised:
        gate.acquire()
    assert raised.value.resets_at == utc(2026, 6, 16, 5)  # midnight CDT = 05:00 UTC
    assert "3 of 3 calls" in str(raised.value) and "2 kept in reserve" in str(raised.value)
    # Identity calls are not part of the quota.
    gate.release(gate.acquire(count_daily=False))
    clock.now = utc(2026, 6, 16, 5, 0, 1)  # the Marketo day rolled over
    assert gate.daily_count() == 0
    assert gate.acquire().daily_count == 1


def test_marketo_607_marks_the_day_exhausted_for_every_worker(redis_url: str) -> None:
    clock = FakeClock(utc(2026, 6, 15, 12))
    gate = budgets(redis_url, clock, daily_quota=100, daily_quota_reserve=10)
    gate.release(gate.acquire())
    gate.mark_daily_exhausted()
    with pytest.raises(DailyQuotaExhausted):
        budgets(redis_url, clock, daily_quota=100, daily_quota_reserve=10).acquire()


@pytest.mark.parametrize(
    ("instant", "day", "reset"),
    [
        # Standard time: midnight in Chicago is 06:00 UTC.
        (utc(2026, 1, 10, 5, 59, 59), date(2026, 1, 9), utc(2026, 1, 10, 6)),
        (utc(2026, 1, 10, 6, 0, 0), date(2026, 1, 10), utc(2026, 1, 11, 6)),
        # 2026-03-08: clocks spring forward at 02:00 CST; that day has 23 hours.
        (utc(2026, 3, 8, 6, 0, 0), date(2026, 3, 8), utc(2026, 3, 9, 5)),
        (utc(2026, 3, 9, 4, 59, 59), date(2026, 3, 8), utc(2026, 3, 9, 5)),
        (utc(2026, 3, 9, 5, 0, 0), date(2026, 3, 9), utc(2026, 3, 10, 5)),
        # 2026-11-01: clocks fall back at 02:00 CDT; that day has 25 hours.
        (utc(2026, 11, 1, 5, 0, 0), date(2026, 11, 1), utc(2026, 11, 2, 6)),
        (utc(2026, 11, 2, 5, 59, 59), date(2026, 11, 1), utc(2026, 11, 2, 6)),
        (utc(2026, 11, 2, 6, 0, 0), date(2026, 11, 2), utc(2026, 11, 3, 6)),
    ],
)
def test_the_marketo_day_follows_chicago_midnight_across_dst(
    instant: float, day: date, reset: float
) -> None:
    assert marketo_day(instant) == day
    assert next_reset(instant) == reset


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (utc(2026, 3, 8, 5, 59, 0), utc(2026, 3, 9, 5, 0, 1)),  # the 23-hour day
        (utc(2026, 11, 1, 4, 59, 0), utc(2026, 11, 2, 6, 0, 1)),  # the 25-hour day
    ],
)
def test_the_daily_count_rolls_over_at_chicago_midnight_across_dst(
    redis_url: str, before: float, after: float
) -> None:
    clock = FakeClock(before)
    gate = budgets(redis_url, clock, daily_quota=10, daily_quota_reserve=0)
    gate.release(gate.acquire())  # the day before the change
    clock.now = before + 120  # past midnight: the DST day starts, the count restarts
    assert gate.daily_count() == 0
    for _ in range(3):
        gate.release(gate.acquire())
    clock.now = after - 2  # one second before the DST day ends: still the same day
    assert gate.daily_count() == 3
    clock.now = after
    assert gate.daily_count() == 0
    gate.release(gate.acquire())
    assert gate.daily_count() == 1


def test_server_time_mode_uses_the_redis_clock(redis_url: str) -> None:
    gate = Budgets(
        redis.Redis.from_url(redis_url),
        "server",
        BudgetLimits(rate_limit_calls=2, rate_limit_window_s=30, max_concurrent_calls=1),
    )
    permit = gate.acquire()
    assert gate.in_flight() == 1
    assert gate.try_acquire()[0] is None  # concurrency 1
    assert gate.release(permit) is True
    gate.release(gate.acquire())
    assert gate.try_acquire()[0] is None  # 2 calls in the 30 s window
