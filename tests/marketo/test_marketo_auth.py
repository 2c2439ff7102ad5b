"""Tokens: shared by every process, refreshed ahead of expiry and after 601/602, bad credentials."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.marketo_helpers import FakeClock, make_client, make_config, run_workers, spec_for
from tests.sandbox_helpers import admin
from tests.services import Service
from workers.errors import MarketoAuthError
from workers.marketo import MarketoClient

IDENTITY = "POST /identity/oauth/token"
DESCRIBE = "GET /rest/v1/leads/describe.json"


def stats(sandbox: Service) -> dict[str, Any]:
    answer: dict[str, Any] = admin(sandbox, "GET", "/_sandbox/stats")
    return answer


def test_processes_using_the_client_at_once_fetch_exactly_one_token(
    sandbox: Service, redis_url: str
) -> None:
    outcomes = run_workers([spec_for(sandbox, redis_url, calls=3) for _ in range(4)])
    assert [o["errors"] for o in outcomes] == [[], [], [], []]
    seen = stats(sandbox)
    assert seen["calls_by_endpoint"][IDENTITY] == 1
    assert seen["tokens_issued"] == 1
    assert seen["calls_by_endpoint"][DESCRIBE] == 12


def test_an_expired_token_is_recovered_transparently(sandbox: Service, redis_url: str) -> None:
    client = make_client(sandbox, redis_url)
    client.request_json("GET", "/rest/v1/leads/describe.json")
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 3600})  # Marketo's clock moves on
    client.request_json("GET", "/rest/v1/leads/describe.json")
    seen = stats(sandbox)
    assert seen["calls_by_code"].get("602") == 1
    assert seen["tokens_issued"] == 2
    counters = client.counters()
    assert counters["token_refreshes"] == 1 and counters["retries"] == 0


@pytest.mark.parametrize("code", ["601", "602"])
def test_a_601_or_602_refreshes_once_and_repeats_the_call(
    sandbox: Service, redis_url: str, code: str
) -> None:
    client = make_client(sandbox, redis_url)
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": code, "count": 1})
    assert client.request_json("GET", "/rest/v1/leads/describe.json").result
    seen = stats(sandbox)
    assert seen["calls_by_endpoint"][IDENTITY] == 2  # the first token, then one refresh
    assert seen["calls_by_endpoint"][DESCRIBE] == 2
    assert client.counters()["token_refreshes"] == 1


def test_repeated_token_errors_are_raised_after_one_refresh(
    sandbox: Service, redis_url: str
) -> None:
    client = make_client(sandbox, redis_url)
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "601", "count": 5})
    with pytest.raises(Exception) as raised:
        client.request_json("GET", "/rest/v1/leads/describe.json")
    assert getattr(raised.value, "code", None) == "601"
    assert stats(sandbox)["calls_by_endpoint"][DESCRIBE] == 2


def test_the_token_is_refreshed_ahead_of_expiry(sandbox: Service, redis_url: str) -> None:
    import redis

    admin(sandbox, "PATCH", "/_sandbox/config", {"token_ttl": 100})
    clock = FakeClock(time.time())
    client = MarketoClient(
        make_config(sandbox, token_refresh_margin_s=60),
        redis.Redis.from_url(redis_url),
        clock=clock,
    )
    client.request_json("GET", "/rest/v1/leads/describe.json")
    clock.advance(30)  # 70 s left: no refresh yet
    client.request_json("GET", "/rest/v1/leads/describe.json")
    assert stats(sandbox)["calls_by_endpoint"][IDENTITY] == 1
    clock.advance(15)  # 55 s left, within the margin: refresh before calling
    client.request_json("GET", "/rest/v1/leads/describe.json")
    seen = stats(sandbox)
    assert seen["calls_by_endpoint"][IDENTITY] == 2
    assert "602" not in seen["calls_by_code"] and "601" not in seen["calls_by_code"]


@pytest.mark.serial
def test_bad_credentials_fail_fast_naming_the_client_id(sandbox: Service, redis_url: str) -> None:
    client = make_client(sandbox, redis_url, secret="wrong-secret-123")
    started = time.monotonic()
    with pytest.raises(MarketoAuthError) as raised:
        client.request_json("GET", "/rest/v1/leads/describe.json")
    assert time.monotonic() - started < 2
    message = str(raised.value)
    assert "test-client-id" in message and "Bad client credentials" in message
    assert "wrong-secret-123" not in message
    seen = stats(sandbox)
    assert seen["calls_by_endpoint"][IDENTITY] == 1  # no retry
    assert DESCRIBE not in seen["calls_by_endpoint"]


def test_bad_credentials_in_many_processes_cause_no_retry_storm(
    sandbox: Service, redis_url: str
) -> None:
    specs = [spec_for(sandbox, redis_url, calls=3, client_secret="wrong") for _ in range(4)]
    outcomes = run_workers(specs)
    for outcome in outcomes:
        assert outcome["ok"] == 0 and len(outcome["errors"]) == 3
        assert all(e.startswith("MarketoAuthError") for e in outcome["errors"])
        assert outcome["finished"] - outcome["started"] < 5
    # At most one identity call per call attempted, never a retry loop.
    assert stats(sandbox)["calls_by_endpoint"][IDENTITY] <= 12
