"""A daily quota changed in Redis applies to every worker's next call, without a restart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from tests.marketo_helpers import FakeClock
from workers.errors import DailyQuotaExhausted
from workers.marketo.budgets import BudgetLimits, Budgets
from workers.pipeline.quota_wait import wait_text


def _gate(redis_url: str, clock: FakeClock) -> Budgets:
    limits = BudgetLimits(daily_quota=3, daily_quota_reserve=1)
    return Budgets(redis.Redis.from_url(redis_url), "unit", limits, clock=clock,
                   sleep=clock.sleep, server_time=False)  # fmt: skip


def _call(gate: Budgets) -> None:
    permit, _ = gate.try_acquire()
    assert permit is not None
    gate.release(permit)


def test_a_raised_quota_lets_calls_through_at_once_and_clearing_it_restores_the_setting(
    redis_url: str,
) -> None:
    clock = FakeClock()
    gate, other_worker = _gate(redis_url, clock), _gate(redis_url, clock)
    _call(gate)
    _call(gate)
    with pytest.raises(DailyQuotaExhausted, match=r"\(2 of 2 calls, 1 kept in reserve\)"):
        gate.try_acquire()

    gate.set_daily_quota(5)  # e.g. `mkto-bulk quota set 5`

    assert other_worker.daily_quota() == (5, True) and other_worker.daily_limit() == 4
    _call(other_worker)
    _call(other_worker)
    with pytest.raises(DailyQuotaExhausted, match=r"\(4 of 4 calls, 1 kept in reserve\)"):
        other_worker.try_acquire()
    gate.set_daily_quota(None)
    assert other_worker.daily_quota() == (3, False) and other_worker.daily_limit() == 2


def test_marketo_607_marks_the_share_in_force_as_used(redis_url: str) -> None:
    clock = FakeClock()
    gate = _gate(redis_url, clock)
    gate.set_daily_quota(101)
    gate.mark_daily_exhausted()
    assert gate.daily_count() == 100
    with pytest.raises(DailyQuotaExhausted):
        gate.try_acquire()


def test_the_wait_text_gives_the_reset_in_chicago_and_in_utc_across_dst() -> None:
    winter = datetime(2026, 12, 2, 6, 0, tzinfo=UTC).timestamp()
    summer = datetime(2026, 7, 2, 5, 0, tzinfo=UTC).timestamp()
    assert wait_text(winter) == (
        "waiting for the daily quota to reset at 2026-12-02 00:00 CST (America/Chicago), "
        "2026-12-02 06:00 UTC"
    )
    assert wait_text(summer) == (
        "waiting for the daily quota to reset at 2026-07-02 00:00 CDT (America/Chicago), "
        "2026-07-02 05:00 UTC"
    )
