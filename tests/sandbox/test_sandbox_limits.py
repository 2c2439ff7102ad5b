"""Sandbox limits: 606 rate window, 615 concurrency, 607 daily quota at Chicago midnight."""

from __future__ import annotations

import threading

import requests

from tests.sandbox_helpers import Caller, admin, configure, error_code, errors, stats
from tests.services import Service, wait_for

DESCRIBE = "/rest/v1/leads/describe.json"


def test_rate_limit_606_then_window_rolls(sandbox: Service) -> None:
    configure(sandbox, rate_limit_calls=5, rate_limit_window=2)
    caller = Caller(sandbox)
    for _ in range(8):  # identity calls are not counted against the rate limit
        caller.token()
    codes = [caller.get(DESCRIBE).json().get("success") for _ in range(5)]
    assert codes == [True] * 5
    limited = caller.get(DESCRIBE)
    assert errors(limited) == [
        {"code": "606", "message": "Max rate limit '5' exceeded with in '2' secs"}
    ]
    assert error_code(caller.get(DESCRIBE)) == "606"  # rejected calls do not extend the window
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 2.01})
    assert caller.get(DESCRIBE).json()["success"] is True
    counters = stats(sandbox)
    assert counters["calls_by_code"]["606"] == 2
    assert counters["max_calls_in_window"] == 7  # every call received, rejected ones included
    assert counters["daily_calls"] == 6


def test_default_rate_limit_message(sandbox: Service) -> None:
    caller = Caller(sandbox)
    responses = [caller.get(DESCRIBE) for _ in range(101)]
    assert all(r.json()["success"] for r in responses[:100])
    assert errors(responses[100]) == [
        {"code": "606", "message": "Max rate limit '100' exceeded with in '20' secs"}
    ]
    assert stats(sandbox)["max_calls_in_window"] == 101


def test_concurrency_615_with_twelve_calls_in_flight(sandbox: Service) -> None:
    configure(sandbox, faults={"slow": 1.0, "slow_seconds": 1.5})
    caller = Caller(sandbox)
    headers = caller.headers
    barrier = threading.Barrier(12)
    codes: list[str] = []

    def call() -> None:
        barrier.wait()
        body = requests.get(sandbox.url + DESCRIBE, headers=headers, timeout=30).json()
        codes.append("200" if body["success"] else body["errors"][0]["code"])

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(codes) == ["200"] * 10 + ["615"] * 2
    counters = stats(sandbox)
    assert counters["max_concurrent_calls"] in (11, 12)  # the two rejected may not overlap
    assert counters["calls_by_code"]["615"] == 2
    assert counters["concurrent_calls"] == 0
    assert counters["daily_calls"] == 10  # 615 is not counted against the quota


def _set_clock(service: Service, when: str) -> None:
    admin(service, "POST", "/_sandbox/clock", {"set": when})


def _quota_used_up(service: Service, when: str) -> Caller:
    _set_clock(service, when)
    caller = Caller(service)
    for _ in range(3):
        assert caller.get(DESCRIBE).json()["success"] is True
    assert errors(caller.get(DESCRIBE)) == [{"code": "607", "message": "Daily quota reached"}]
    return caller


def test_daily_quota_resets_at_chicago_midnight_spring_forward(sandbox: Service) -> None:
    configure(sandbox, daily_quota=3, token_ttl=86400)
    # 2026-03-08 is 23 hours long in Chicago: midnight after it is 05:00 UTC (CDT), not 06:00
    caller = _quota_used_up(sandbox, "2026-03-09T04:58:00+00:00")
    assert stats(sandbox)["daily_calls"] == 3
    _set_clock(sandbox, "2026-03-09T04:59:59+00:00")
    assert error_code(caller.get(DESCRIBE)) == "607"
    _set_clock(sandbox, "2026-03-09T05:00:01+00:00")
    assert caller.get(DESCRIBE).json()["success"] is True
    assert stats(sandbox)["daily_calls"] == 1


def test_daily_quota_resets_at_chicago_midnight_fall_back(sandbox: Service) -> None:
    configure(sandbox, daily_quota=3, token_ttl=86400)
    # 2026-11-01 is 25 hours long: midnight after it is 06:00 UTC (CST)
    caller = _quota_used_up(sandbox, "2026-11-02T04:00:00+00:00")
    _set_clock(sandbox, "2026-11-02T05:30:00+00:00")  # 23:30 CST, still Nov 1 in Chicago
    assert error_code(caller.get(DESCRIBE)) == "607"
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 1800})
    assert caller.get(DESCRIBE).json()["success"] is True


def test_quota_day_is_plain_midnight_on_ordinary_days(sandbox: Service) -> None:
    configure(sandbox, daily_quota=3, token_ttl=86400)
    caller = _quota_used_up(sandbox, "2026-07-15T23:00:00-05:00")
    _set_clock(sandbox, "2026-07-15T23:59:59-05:00")
    assert error_code(caller.get(DESCRIBE)) == "607"
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 2})
    assert caller.get(DESCRIBE).json()["success"] is True


def test_a_reset_during_a_slow_call_keeps_counting_it_in_flight(sandbox: Service) -> None:
    caller = Caller(sandbox)
    caller.token()
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "slow", "count": 1})
    configure(sandbox, faults={"slow_seconds": 1.5})
    worker = threading.Thread(target=caller.get_json, args=("/rest/v1/leads/describe.json",))
    worker.start()
    wait_for(lambda: stats(sandbox)["concurrent_calls"] == 1, timeout=10, what="a call in flight")
    admin(sandbox, "POST", "/_sandbox/reset", {})
    assert stats(sandbox)["concurrent_calls"] == 1
    worker.join(20)
    wait_for(lambda: stats(sandbox)["concurrent_calls"] == 0, timeout=10, what="the call to end")
