"""The Data Ingestion API's shared limits against a real Redis, driven by an injected clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from tests.marketo_helpers import FakeClock
from workers.errors import BudgetTimeout, DailyQuotaExhausted
from workers.marketo.budgets import next_reset
from workers.marketo.ingestion_budgets import IngestionBudgets, IngestionLimits


def gate(
    redis_url: str, clock: FakeClock, client_id: str = "cid", **limits: Any
) -> IngestionBudgets:
    return IngestionBudgets(
        redis.Redis.from_url(redis_url),
        instance="unit",
        client_id=client_id,
        limits=IngestionLimits(**limits),
        clock=clock,
        sleep=clock.sleep,
        server_time=False,
    )


def test_requests_per_second_are_admitted_up_to_the_share_then_wait(redis_url: str) -> None:
    clock = FakeClock()
    budgets = gate(redis_url, clock, requests_per_s=3)
    assert [budgets.try_acquire(10)[0] for _ in range(3)] == [True, True, True]
    granted, wait = budgets.try_acquire(10)
    assert not granted and 0 < wait <= 0.1
    clock.advance(1.001)
    assert budgets.try_acquire(10)[0]


def test_the_window_is_per_client_id_and_the_objects_per_instance(redis_url: str) -> None:
    clock = FakeClock()
    one = gate(redis_url, clock, "one", requests_per_s=1, daily_objects=1_500)
    two = gate(redis_url, clock, "two", requests_per_s=1, daily_objects=1_500)
    assert one.try_acquire(1_000)[0]
    assert two.try_acquire(400)[0]  # its own window; the same day's objects
    clock.advance(2)
    with pytest.raises(DailyQuotaExhausted):
        one.try_acquire(101)
    assert one.daily_count() == two.daily_count() == 1_400


def test_a_request_past_the_day_share_fails_with_the_reset_time(redis_url: str) -> None:
    clock = FakeClock(now=datetime(2026, 3, 7, 12, tzinfo=UTC).timestamp())
    budgets = gate(redis_url, clock, daily_objects=2_000)
    assert budgets.try_acquire(1_000)[0]
    assert budgets.try_acquire(1_000)[0]
    with pytest.raises(DailyQuotaExhausted) as raised:
        budgets.try_acquire(1)
    assert raised.value.resets_at == next_reset(clock())
    assert "2,000 of 2,000" in raised.value.message
    clock.now = next_reset(clock()) + 1  # a new Marketo day: a new count
    assert budgets.try_acquire(1_000)[0]


def test_a_refund_gives_back_objects_that_never_left(redis_url: str) -> None:
    clock = FakeClock()
    budgets = gate(redis_url, clock, daily_objects=1_000)
    assert budgets.try_acquire(1_000)[0]
    budgets.refund(1_000)
    assert budgets.daily_count() == 0
    budgets.refund(5)  # never below zero
    assert budgets.daily_count() == 0


def test_a_hold_off_stops_every_worker_of_the_client_id(redis_url: str) -> None:
    clock = FakeClock()
    one, two = gate(redis_url, clock), gate(redis_url, clock)
    one.hold_off(1.0)
    granted, wait = two.try_acquire(1)
    assert not granted and wait == pytest.approx(1.0)
    clock.advance(1.01)
    assert two.try_acquire(1)[0]


def test_marketo_saying_the_day_is_used_stops_every_worker(redis_url: str) -> None:
    clock = FakeClock()
    one, two = gate(redis_url, clock), gate(redis_url, clock)
    one.mark_daily_exhausted()
    with pytest.raises(DailyQuotaExhausted):
        two.try_acquire(1)


def test_acquire_gives_up_after_its_timeout(redis_url: str) -> None:
    clock = FakeClock()
    budgets = gate(redis_url, clock)
    budgets.hold_off(60)
    with pytest.raises(BudgetTimeout, match="within 5s"):
        budgets.acquire(1, timeout_s=5)


def test_threads_racing_never_exceed_the_share_in_any_second(redis_url: str) -> None:
    """Real time, real Redis clock: 8 threads want 200 requests at 50 per second."""
    budgets = IngestionBudgets(
        redis.Redis.from_url(redis_url),
        instance="race",
        client_id="race",
        limits=IngestionLimits(requests_per_s=50),
    )
    granted: list[float] = []
    lock = threading.Lock()
    client = redis.Redis.from_url(redis_url)

    def worker() -> None:
        for _ in range(25):
            budgets.acquire(1, timeout_s=30)
            seconds, micros = client.time()
            with lock:
                granted.append(seconds + micros / 1e6)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(granted) == 200
    granted.sort()
    # Any 1-second span holds at most 50 grants; the clock is read just after each grant,
    # not at it, so spans of 0.9 s leave that delay room.
    for i, start in enumerate(granted):
        inside = sum(1 for t in granted[i:] if t < start + 0.9)
        assert inside <= 50
