"""Budgets across processes, as the sandbox counts them: rate, concurrency, leases, quota."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from tests.marketo_helpers import make_client, run_workers, spec_for, worker_main
from tests.sandbox_helpers import admin
from tests.services import Service, wait_for
from workers.errors import DailyQuotaExhausted
from workers.marketo import BudgetLimits
from workers.marketo.budgets import Budgets, Permit

DESCRIBE = "GET /rest/v1/leads/describe.json"


def stats(sandbox: Service) -> dict[str, Any]:
    answer: dict[str, Any] = admin(sandbox, "GET", "/_sandbox/stats")
    return answer


def server_now(gate: Budgets) -> float:
    seconds, micros = gate.redis.time()
    return float(seconds) + float(micros) / 1_000_000


@pytest.mark.serial  # exact call counts: a call answered after its read timeout is sent again
def test_four_processes_never_exceed_the_calls_per_window(sandbox: Service, redis_url: str) -> None:
    admin(sandbox, "PATCH", "/_sandbox/config", {"rate_limit_window": 2})
    limits = {"rate_limit_calls": 10, "rate_limit_window_s": 2.0}
    outcomes = run_workers([spec_for(sandbox, redis_url, 6, limits=limits) for _ in range(4)])
    assert [o["errors"] for o in outcomes] == [[], [], [], []]
    seen = stats(sandbox)
    assert seen["calls_by_endpoint"][DESCRIBE] == 24
    assert 8 <= seen["max_calls_in_window"] <= 10  # the budget was reached, never passed
    assert "606" not in seen["calls_by_code"]


def test_four_processes_never_exceed_the_calls_in_flight(sandbox: Service, redis_url: str) -> None:
    admin(sandbox, "PATCH", "/_sandbox/config",
          {"faults": {"slow": 1.0, "slow_seconds": 0.25}})  # fmt: skip
    limits = {"max_concurrent_calls": 2}
    outcomes = run_workers([spec_for(sandbox, redis_url, 3, limits=limits) for _ in range(4)])
    assert [o["errors"] for o in outcomes] == [[], [], [], []]
    seen = stats(sandbox)
    assert seen["calls_by_endpoint"][DESCRIBE] == 12
    assert seen["max_concurrent_calls"] == 2
    assert "615" not in seen["calls_by_code"]


@pytest.mark.serial  # a 2 s lease, watched to the tenth of a second
def test_a_sigkilled_process_holds_its_permit_only_until_its_lease_ends(
    sandbox: Service, redis_url: str
) -> None:
    lease = 2.0
    admin(sandbox, "PATCH", "/_sandbox/config", {"faults": {"slow_seconds": 4}})
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "slow", "count": 1})
    limits: dict[str, Any] = {"max_concurrent_calls": 1, "call_lease_s": lease}
    gate = Budgets(redis.Redis.from_url(redis_url), "test-instance", BudgetLimits(**limits))
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    child = context.Process(
        target=worker_main, args=(spec_for(sandbox, redis_url, 1, limits=limits), start, results)
    )
    child.start()
    start.set()
    try:
        wait_for(lambda: stats(sandbox)["concurrent_calls"] == 1, 20, what="the slow call")
        assert gate.in_flight() == 1
        leases: Any = gate.redis.zrange(gate.inflight_key, 0, -1, withscores=True)
        assert len(leases) == 1
        lease_end = float(leases[0][1])
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(10)
        assert gate.try_acquire()[0] is None  # still leased to the dead process
        assert lease_end - server_now(gate) > 0.5  # killed well before the lease ends
        attempts: list[tuple[float, Permit | None, float]] = []

        def granted() -> bool:
            before = server_now(gate)
            permit, _ = gate.try_acquire()
            attempts.append((before, permit, server_now(gate)))
            return permit is not None

        wait_for(granted, timeout=lease + 5, interval=0.02, what="the lease to end")
        before, permit, after = attempts[-1]
        assert after >= lease_end  # not before the lease ended
        assert before - lease_end < 0.5  # and promptly once it had
        assert all(a[2] < lease_end + 0.05 for a in attempts[:-1])
        assert permit is not None
        gate.release(permit)
    finally:
        if child.is_alive():
            child.kill()
        # The sandbox finishes the orphaned slow call; leave it idle for the next test.
        wait_for(lambda: stats(sandbox)["concurrent_calls"] == 0, 10, what="sandbox idle")


def test_the_daily_share_stops_calls_before_marketo_s_quota(
    sandbox: Service, redis_url: str
) -> None:
    client = make_client(
        sandbox, redis_url, limits=BudgetLimits(daily_quota=5, daily_quota_reserve=2)
    )
    for _ in range(3):
        client.request_json("GET", "/rest/v1/leads/describe.json")
    assert client.daily_calls() == 3
    with pytest.raises(DailyQuotaExhausted) as raised:
        client.request_json("GET", "/rest/v1/leads/describe.json")
    assert raised.value.code == "quota"
    chicago = datetime.fromtimestamp(raised.value.resets_at, ZoneInfo("America/Chicago"))
    assert (chicago.hour, chicago.minute, chicago.second) == (0, 0, 0)
    assert raised.value.resets_at > time.time()
    assert stats(sandbox)["calls_by_endpoint"][DESCRIBE] == 3  # the 4th never left


def test_marketo_s_607_stops_every_worker_until_the_reset(sandbox: Service, redis_url: str) -> None:
    admin(sandbox, "PATCH", "/_sandbox/config", {"daily_quota": 2})
    client = make_client(sandbox, redis_url)
    other = make_client(sandbox, redis_url)  # another worker of the same instance
    client.request_json("GET", "/rest/v1/leads/describe.json")
    client.request_json("GET", "/rest/v1/leads/describe.json")
    with pytest.raises(DailyQuotaExhausted) as raised:
        client.request_json("GET", "/rest/v1/leads/describe.json")
    assert raised.value.code == "607" and raised.value.resets_at > time.time()
    assert client.counters()["retries"] == 0
    with pytest.raises(DailyQuotaExhausted):
        other.request_json("GET", "/rest/v1/leads/describe.json")
    assert stats(sandbox)["calls_by_code"]["607"] == 1  # the other worker did not call
