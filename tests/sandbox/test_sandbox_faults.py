"""Sandbox fault injection: the deterministic queue and the seeded random rates."""

from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox_helpers import Caller, admin, admin_raw, configure, error_code, errors, stats
from tests.services import Service

DESCRIBE = "/rest/v1/leads/describe.json"


def queue_fault(service: Service, fault: str, count: int = 1, prefix: str | None = None) -> None:
    body: dict[str, object] = {"fault": fault, "count": count}
    if prefix is not None:
        body["path_prefix"] = prefix
    admin(service, "POST", "/_sandbox/faults", body)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("606", "Max rate limit '100' exceeded with in '20' secs"),
        ("615", "Concurrent access limit reached"),
        ("604", "Request time-out"),
        ("601", "Access token invalid"),
        ("602", "Access token expired"),
    ],
)
def test_queued_envelope_faults(sandbox: Service, fault: str, message: str) -> None:
    caller = Caller(sandbox)
    caller.token()
    queue_fault(sandbox, fault)
    assert errors(caller.get(DESCRIBE)) == [{"code": fault, "message": message}]
    assert caller.get(DESCRIBE).json()["success"] is True
    counters = stats(sandbox)
    assert counters["calls_by_code"][fault] == 1
    assert counters["daily_calls"] == 1  # the faulted call was not executed or counted


def test_queued_http_faults_and_drop(sandbox: Service) -> None:
    caller = Caller(sandbox)
    caller.token()
    queue_fault(sandbox, "502")
    queue_fault(sandbox, "503")
    queue_fault(sandbox, "5xx")
    assert caller.get(DESCRIBE).status_code == 502
    assert caller.get(DESCRIBE).status_code == 503
    assert caller.get(DESCRIBE).status_code in (502, 503)
    queue_fault(sandbox, "drop")
    with pytest.raises(requests.ConnectionError):
        caller.get(DESCRIBE)
    assert caller.get(DESCRIBE).json()["success"] is True
    assert stats(sandbox)["calls_by_code"]["drop"] == 1


def test_drop_during_upload(sandbox: Service) -> None:
    caller = Caller(sandbox)
    caller.token()
    queue_fault(sandbox, "drop", prefix="/bulk/")
    with pytest.raises(requests.ConnectionError):
        caller.upload("/bulk/v1/leads.json", "email\n" + "a@example.com\n" * 50_000, format="csv")
    assert stats(sandbox)["jobs"]["Queued"] + stats(sandbox)["jobs"]["Importing"] == 0


def test_slow_fault_delays_then_answers(sandbox: Service) -> None:
    configure(sandbox, faults={"slow_seconds": 0.4})
    caller = Caller(sandbox)
    caller.token()
    queue_fault(sandbox, "slow")
    started = time.monotonic()
    assert caller.get(DESCRIBE).json()["success"] is True
    assert time.monotonic() - started >= 0.4


def test_path_prefix_and_identity(sandbox: Service) -> None:
    caller = Caller(sandbox)
    caller.token()
    queue_fault(sandbox, "606", count=2, prefix="/bulk/")
    queue_fault(sandbox, "503", count=1, prefix="/identity/")
    assert caller.get(DESCRIBE).json()["success"] is True
    assert error_code(caller.get("/bulk/v1/leads/batch/5.json")) == "606"
    assert error_code(caller.get("/bulk/v1/leads/batch/5.json")) == "606"
    assert error_code(caller.get("/bulk/v1/leads/batch/5.json")) == "1003"
    with pytest.raises(requests.HTTPError):
        caller.token()
    caller.token()
    listing = admin(sandbox, "GET", "/_sandbox/faults")
    assert listing["queued"] == []
    assert listing["injected"] == {"606": 2, "503": 1}


def test_fault_queue_admin(sandbox: Service) -> None:
    queue_fault(sandbox, "604", count=3)
    assert admin(sandbox, "GET", "/_sandbox/faults")["queued"] == [
        {"fault": "604", "remaining": 3, "path_prefix": None}
    ]
    assert admin(sandbox, "DELETE", "/_sandbox/faults")["queued"] == []
    bad = admin_raw(sandbox, "POST", "/_sandbox/faults", {"fault": "999", "count": 1})
    assert bad.status_code == 400
    assert "fault must be one of" in bad.json()["error"]
    assert (
        admin_raw(sandbox, "POST", "/_sandbox/faults", {"fault": "606", "count": 0}).status_code
        == 400
    )


def _pattern(service: Service) -> list[str]:
    caller = Caller(service)
    caller.token()
    return [
        "ok" if r.status_code == 200 and r.json().get("success") else str(r.status_code)
        + ":" + (r.json()["errors"][0]["code"] if r.status_code == 200 else "")
        for r in (caller.get(DESCRIBE) for _ in range(30))
    ]  # fmt: skip


def test_random_rates_are_reproducible_with_a_seed(sandbox: Service) -> None:
    rates = {"606": 0.2, "604": 0.1, "5xx": 0.1, "seed": 42}
    configure(sandbox, faults=rates)
    first = _pattern(sandbox)
    assert "ok" in first
    assert any(p != "ok" for p in first)
    admin(sandbox, "POST", "/_sandbox/reset", {})
    configure(sandbox, faults=rates)
    assert _pattern(sandbox) == first
    injected = stats(sandbox)["faults_injected"]
    assert sum(injected.values()) == sum(1 for p in first if p != "ok")


def test_skip_row_leaves_the_last_row_out_of_every_count(sandbox: Service) -> None:
    caller = Caller(sandbox)
    caller.token()
    queue_fault(sandbox, "skip_row")
    caller.get(DESCRIBE)  # not an import: the fault waits for the next job create
    rows = "".join(f"s{n}@example.com,S{n}\n" for n in range(4))
    batch = caller.submit("/bulk/v1/leads.json", "email,firstName\n" + rows, format="csv")
    result = caller.wait_done(f"/bulk/v1/leads/batch/{batch}.json")
    assert (result["numOfLeadsProcessed"], result["numOfRowsFailed"]) == (3, 0)
    assert admin(sandbox, "GET", "/_sandbox/records/leads")["count"] == 3
    again = caller.submit("/bulk/v1/leads.json", "email,firstName\n" + rows, format="csv")
    assert caller.wait_done(f"/bulk/v1/leads/batch/{again}.json")["numOfLeadsProcessed"] == 4


def test_garbled_answers_success_with_a_batch_id_that_is_not_a_number(sandbox: Service) -> None:
    caller = Caller(sandbox)
    caller.token()
    queue_fault(sandbox, "garbled", prefix="/bulk/v1/leads.json")
    response = caller.upload("/bulk/v1/leads.json", "email\na@example.com\n", format="csv")
    assert response.json()["result"] == [{"batchId": "garbled", "status": "Queued"}]
    assert admin(sandbox, "GET", "/_sandbox/jobs") == []  # no job was made
