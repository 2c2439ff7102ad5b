"""Sandbox import queue: FIFO, 2 importing, 10 outstanding, 1016, timing on the sandbox clock."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox_helpers import Caller, admin, configure, error_code, stats
from tests.services import Service

LEADS = "/bulk/v1/leads.json"
CARS = "/bulk/v1/customobjects/car_c/import.json"
MEMBERS = "/bulk/v1/program/1002/members/import.json"


def advance(service: Service, seconds: float) -> None:
    admin(service, "POST", "/_sandbox/clock", {"advance": seconds})


def jobs(service: Service) -> dict[int, dict[str, Any]]:
    return {job["batchId"]: job for job in admin(service, "GET", "/_sandbox/jobs")}


def submit_any(caller: Caller, index: int) -> int:
    """Alternate the three object types: with the default shared queue they all count."""
    kind = index % 3
    if kind == 0:
        return caller.submit(LEADS, f"email\nl{index}@example.com\n", format="csv")
    if kind == 1:
        return caller.submit(CARS, f"vin,color\nVIN{index},red\n", format="csv")
    return caller.submit(MEMBERS, f"email\nm{index}@example.com\n", format="csv",
                         programMemberStatus="On List")  # fmt: skip


def test_fifo_two_importing_and_eleventh_gets_1016(sandbox: Service) -> None:
    configure(sandbox, import_overhead_s=100, token_ttl=86400)
    caller = Caller(sandbox)
    batches = [submit_any(caller, i) for i in range(10)]
    state = jobs(sandbox)
    assert [state[b]["status"] for b in batches] == ["Importing"] * 2 + ["Queued"] * 8
    response = caller.upload(LEADS, "email\nlate@example.com\n", format="csv")
    assert error_code(response) == "1016"
    assert response.json()["errors"][0]["message"] == "Too many imports"
    assert caller.get_json(f"/bulk/v1/leads/batch/{batches[0]}.json")["result"][0]["status"] == (
        "Importing"
    )
    counters = stats(sandbox)
    assert counters["too_many_imports_sent"] == 1
    assert counters["jobs"] == {"Queued": 8, "Importing": 2, "Complete": 0, "Failed": 0}

    advance(sandbox, 100)
    state = jobs(sandbox)
    assert [state[b]["status"] for b in batches[:4]] == ["Complete"] * 2 + ["Importing"] * 2
    assert state[batches[2]]["started_at"] == pytest.approx(state[batches[0]]["finished_at"])
    # a slot has freed: one more job is admitted, at the back of the queue
    late = caller.submit(LEADS, "email\nlate@example.com\n", format="csv")
    advance(sandbox, 400)
    state = jobs(sandbox)
    assert state[late]["status"] == "Importing"
    assert all(state[b]["status"] == "Complete" for b in batches)
    order = sorted([*batches, late], key=lambda b: state[b]["started_at"])
    assert order == [*batches, late]
    advance(sandbox, 100)
    counters = stats(sandbox)
    assert counters["max_outstanding_jobs"] == 10
    assert counters["max_importing_jobs"] == 2
    assert counters["jobs"]["Complete"] == 11
    assert counters["records"] == {"leads": 8, "car_c": 3, "order_line_c": 0, "program_members": 3}


def test_separate_queues_when_configured(sandbox: Service) -> None:
    configure(sandbox, import_overhead_s=100, shared_queue=False)
    caller = Caller(sandbox)
    for i in range(10):
        caller.submit(LEADS, f"email\nl{i}@example.com\n", format="csv")
    assert error_code(caller.upload(LEADS, "email\nx@example.com\n", format="csv")) == "1016"
    car = caller.submit(CARS, "vin\nV1\n", format="csv")
    assert jobs(sandbox)[car]["status"] == "Importing"
    assert stats(sandbox)["jobs"]["Importing"] == 3


def test_duration_is_overhead_plus_rows_and_independent_of_polling(sandbox: Service) -> None:
    configure(sandbox, import_overhead_s=10, import_rows_per_s=100)
    caller = Caller(sandbox)
    rows = "".join(f"r{i}@example.com\n" for i in range(500))
    first = caller.submit(LEADS, "email\n" + rows, format="csv")
    second = caller.submit(LEADS, "email\nsolo@example.com\n", format="csv")
    third = caller.submit(LEADS, "email\nlast@example.com\n", format="csv")
    advance(sandbox, 3600)  # nobody polled meanwhile
    state = jobs(sandbox)
    assert state[first]["finished_at"] - state[first]["started_at"] == pytest.approx(15.0)
    assert state[second]["finished_at"] - state[second]["started_at"] == pytest.approx(10.01)
    assert state[third]["started_at"] == pytest.approx(state[second]["finished_at"])
    assert state[first]["queued_at"] <= state[first]["started_at"]
    assert stats(sandbox)["records"]["leads"] == 502
    occupancy = admin(sandbox, "GET", "/_sandbox/occupancy")
    assert occupancy["busy_slot_seconds"] == pytest.approx(15 + 10.01 + 10.01, abs=0.01)
    assert occupancy["active_seconds"] == pytest.approx(20.02, abs=0.05)
    assert 0.8 < occupancy["occupancy"] <= 1.0


def test_jobs_finish_in_real_time_without_polling(sandbox: Service) -> None:
    caller = Caller(sandbox)
    batch = caller.submit(LEADS, "email\nrt@example.com\n", format="csv")
    from tests.services import wait_for

    wait_for(lambda: stats(sandbox)["records"]["leads"] == 1, timeout=5, what="record applied")
    assert jobs(sandbox)[batch]["status"] == "Complete"


def test_job_failed_fault_rate_and_queue(sandbox: Service) -> None:
    caller = Caller(sandbox)
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "job_failed", "count": 1})
    failed = caller.submit(LEADS, "email\na@example.com\n", format="csv")
    ok = caller.submit(LEADS, "email\nb@example.com\n", format="csv")
    assert caller.wait_done(f"/bulk/v1/leads/batch/{failed}.json")["status"] == "Failed"
    assert caller.wait_done(f"/bulk/v1/leads/batch/{ok}.json")["status"] == "Complete"
    configure(sandbox, faults={"job_failed": 1.0})
    batch = caller.submit(CARS, "vin\nV9\n", format="csv")
    result = caller.wait_done(f"/bulk/v1/customobjects/car_c/import/{batch}/status.json")
    assert result["status"] == "Failed"
    assert result["message"] == "Import failed: internal error (injected fault)"
    assert result["numOfObjectsProcessed"] == 0
    counters = stats(sandbox)
    assert counters["jobs"]["Failed"] == 2
    assert counters["records"]["leads"] == 1
    assert counters["records"]["car_c"] == 0
