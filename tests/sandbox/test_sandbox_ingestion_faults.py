"""Sandbox fault injection on the Data Ingestion API: the same queue and rates as for REST.

An ingestion client meets REST's usage faults (606, 615) as ``429 429001``,
token faults (601, 602) as ``401 401013``, and ``429`` / ``500`` (queueable,
ingestion only) as ``429 429001`` / ``500 5000801``; 5xx, 604, drops and slow
answers are the gateway's. A faulted request is never applied.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox_helpers import Caller, Ingester, admin, configure, drain, refusal, stats
from tests.services import Service

PREFIX = "/subscriptions/"
PERSONS = {"persons": [{"email": "f@example.com"}]}


def queue_fault(service: Service, fault: str, prefix: str | None = PREFIX) -> None:
    body: dict[str, object] = {"fault": fault, "count": 1}
    if prefix is not None:
        body["path_prefix"] = prefix
    admin(service, "POST", "/_sandbox/faults", body)


@pytest.mark.parametrize(
    ("fault", "status", "code", "message"),
    [
        ("429", 429, "429001", "Service usage limit reached"),
        ("606", 429, "429001", "Service usage limit reached"),
        ("615", 429, "429001", "Service usage limit reached"),
        ("601", 401, "401013", "Oauth token is invalid"),
        ("602", 401, "401013", "Oauth token is invalid"),
        ("500", 500, "5000801", "Internal Server Error"),
    ],
)
def test_queued_faults_answer_documented_errors(
    sandbox: Service, fault: str, status: int, code: str, message: str
) -> None:
    ingester = Ingester(sandbox)
    queue_fault(sandbox, fault)
    response = ingester.post("persons", PERSONS)
    assert refusal(response) == (status, {"error_code": code, "message": message})
    entry = admin(
        sandbox, "GET", f"/_sandbox/ingestion/requests/{response.headers['X-Request-Id']}"
    )
    assert (entry["status"], entry["fault"], entry["error_code"]) == ("rejected", fault, code)
    ingester.send("persons", PERSONS)  # the next call is served
    assert drain(sandbox) == 1
    assert stats(sandbox)["faults_injected"] == {fault: 1}


@pytest.mark.parametrize(
    ("fault", "statuses"), [("502", {502}), ("503", {503}), ("5xx", {502, 503}), ("604", {504})]
)
def test_gateway_faults_answer_without_an_error_body(
    sandbox: Service, fault: str, statuses: set[int]
) -> None:
    ingester = Ingester(sandbox)
    queue_fault(sandbox, fault)
    response = ingester.post("persons", PERSONS)
    assert response.status_code in statuses
    assert response.headers["Content-Type"].startswith("text/html")
    assert drain(sandbox) == 0


def test_drop_closes_the_connection_and_nothing_is_applied(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    queue_fault(sandbox, "drop")
    with pytest.raises(requests.ConnectionError):
        ingester.post("persons", PERSONS)
    assert drain(sandbox) == 0
    dropped = admin(sandbox, "GET", "/_sandbox/ingestion/requests?status=dropped")
    assert dropped["count"] == 1
    assert admin(sandbox, "GET", "/_sandbox/records/leads") == {"count": 0}
    assert stats(sandbox)["calls_by_code"]["drop"] == 1


def test_slow_delays_then_accepts(sandbox: Service) -> None:
    configure(sandbox, faults={"slow_seconds": 0.4})
    ingester = Ingester(sandbox)
    queue_fault(sandbox, "slow")
    started = time.monotonic()
    ingester.send("persons", PERSONS)
    assert time.monotonic() - started >= 0.4
    assert drain(sandbox) == 1


def test_garbled_is_a_2xx_that_is_not_202_and_applies_nothing(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    queue_fault(sandbox, "garbled")
    response = ingester.post("persons", PERSONS)
    assert response.status_code == 200
    assert "X-Request-Id" not in response.headers
    assert drain(sandbox) == 0


def test_ingestion_only_faults_wait_for_an_ingestion_call(sandbox: Service) -> None:
    caller = Caller(sandbox)
    ingester = Ingester(sandbox, caller)
    queue_fault(sandbox, "429", prefix=None)
    queue_fault(sandbox, "500", prefix=None)
    assert caller.get("/rest/v1/leads/describe.json").json()["success"] is True
    assert refusal(ingester.post("persons", PERSONS))[1]["error_code"] == "429001"
    assert (
        refusal(ingester.post("lists", {"listId": 501, "leads": [{"leadId": 1}]}))[1]["error_code"]
        == "5000801"
    )
    # A REST fault queued for /bulk/ does not touch ingestion calls.
    queue_fault(sandbox, "606", prefix="/bulk/")
    ingester.send("persons", PERSONS)
    assert admin(sandbox, "GET", "/_sandbox/faults")["queued"][0]["fault"] == "606"


def test_random_rates_cover_ingestion_calls_reproducibly(sandbox: Service) -> None:
    rates = {"5xx": 0.3, "606": 0.2, "seed": 9}

    def pattern() -> list[int]:
        configure(sandbox, faults=rates)
        ingester = Ingester(sandbox)
        return [ingester.post("persons", PERSONS).status_code for _ in range(20)]

    first = pattern()
    assert 202 in first and 429 in first and {502, 503} & set(first)
    applied = drain(sandbox)
    assert applied == first.count(202)
    admin(sandbox, "POST", "/_sandbox/reset", {})
    assert pattern() == first
