"""Injected faults: transient ones are absorbed with backoff, permanent ones raised at once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.marketo_helpers import make_client
from tests.sandbox_helpers import admin
from tests.services import Service
from workers.errors import MarketoPermanentError, MarketoTransientError, RateLimited
from workers.marketo import RetryPolicy

DESCRIBE = "GET /rest/v1/leads/describe.json"
PATH = "/rest/v1/leads/describe.json"


def stats(sandbox: Service) -> dict[str, Any]:
    answer: dict[str, Any] = admin(sandbox, "GET", "/_sandbox/stats")
    return answer


def inject(sandbox: Service, fault: str, count: int, prefix: str = "/rest/") -> None:
    admin(sandbox, "POST", "/_sandbox/faults",
          {"fault": fault, "count": count, "path_prefix": prefix})  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "code"),
    [("606", "606"), ("615", "615"), ("604", "604"), ("502", "502"), ("503", "503"),
     ("drop", "connection")],
)  # fmt: skip
def test_transient_faults_are_retried_until_the_call_succeeds(
    sandbox: Service, redis_url: str, fault: str, code: str
) -> None:
    client = make_client(sandbox, redis_url, holdoff_606_s=0.2)
    inject(sandbox, fault, 2)
    envelope = client.request_json("GET", PATH)
    assert envelope.result
    assert stats(sandbox)["calls_by_endpoint"][DESCRIBE] == 3
    counters = client.counters()
    assert counters["retries"] == 2 and counters["calls"] == 1 and counters["attempts"] == 3
    assert counters[f"code:{code}"] == 2


def test_a_read_timeout_is_retried(sandbox: Service, redis_url: str) -> None:
    admin(sandbox, "PATCH", "/_sandbox/config", {"faults": {"slow_seconds": 1.0}})
    client = make_client(sandbox, redis_url, read_timeout_s=0.3)
    inject(sandbox, "slow", 1)
    assert client.request_json("GET", PATH).result
    assert client.counters()["code:timeout"] == 1


def test_random_faults_at_a_steady_rate_are_all_absorbed(sandbox: Service, redis_url: str) -> None:
    admin(sandbox, "PATCH", "/_sandbox/config",
          {"faults": {"615": 0.1, "604": 0.1, "5xx": 0.1, "drop": 0.1, "seed": 3}})  # fmt: skip
    client = make_client(sandbox, redis_url, retry=RetryPolicy(max_retries=10, base_s=0.01,
                                                                cap_s=0.1))  # fmt: skip
    for _ in range(20):
        client.request_json("GET", PATH)
    assert client.counters()["retries"] > 0
    assert client.counters()["failures"] == 0


def test_a_606_holds_off_every_worker_not_only_the_one_that_got_it(
    sandbox: Service, redis_url: str
) -> None:
    hold = 1.0
    first = make_client(sandbox, redis_url, holdoff_606_s=hold, retry=RetryPolicy(max_retries=0))
    other = make_client(sandbox, redis_url, holdoff_606_s=hold)
    other.request_json("GET", PATH)  # warm: token cached
    inject(sandbox, "606", 1)
    started = time.monotonic()
    with pytest.raises(RateLimited):
        first.request_json("GET", PATH)
    other.request_json("GET", PATH)
    assert time.monotonic() - started >= hold * 0.9
    assert other.counters()["holdoffs_606"] == 1


def test_retries_give_up_after_the_limit(sandbox: Service, redis_url: str) -> None:
    client = make_client(sandbox, redis_url, retry=RetryPolicy(max_retries=2, base_s=0.01))
    inject(sandbox, "604", 5)
    with pytest.raises(MarketoTransientError) as raised:
        client.request_json("GET", PATH)
    assert raised.value.code == "604" and "Request time-out" in raised.value.message
    assert raised.value.request_id
    assert stats(sandbox)["calls_by_endpoint"][DESCRIBE] == 3


@pytest.mark.serial
def test_permanent_errors_are_raised_at_once_with_code_and_message(
    sandbox: Service, redis_url: str
) -> None:
    client = make_client(sandbox, redis_url)
    started = time.monotonic()
    with pytest.raises(MarketoPermanentError) as raised:
        client.request_json("GET", "/rest/v1/nothing/here.json")
    assert time.monotonic() - started < 1
    assert raised.value.code == "610"
    assert "Requested resource not found" in str(raised.value) and raised.value.request_id
    assert client.counters()["retries"] == 0


def test_a_413_is_permanent(sandbox: Service, redis_url: str) -> None:
    from workers.marketo import Upload
    from workers.objects.leads import LeadImport

    admin(sandbox, "PATCH", "/_sandbox/config", {"max_file_bytes": 1000})
    client = make_client(sandbox, redis_url)
    with pytest.raises(MarketoPermanentError) as raised:
        client.create_import(LeadImport(), Upload.from_bytes(b"email\n" + b"a@b.co\n" * 500))
    assert raised.value.code == "413"


def test_concurrent_threads_share_one_client(sandbox: Service, redis_url: str) -> None:
    client = make_client(sandbox, redis_url)
    errors: list[Exception] = []

    def work() -> None:
        try:
            for _ in range(3):
                client.request_json("GET", PATH)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert stats(sandbox)["calls_by_endpoint"]["POST /identity/oauth/token"] == 1


def test_a_create_that_may_have_reached_marketo_can_be_left_to_the_caller(
    sandbox: Service, redis_url: str
) -> None:
    from workers.errors import MarketoTransportError
    from workers.marketo import Upload
    from workers.objects.leads import LeadImport

    client = make_client(sandbox, redis_url)
    inject(sandbox, "drop", 1, prefix="/bulk/")
    data = Upload.from_bytes(b"email\nonce@example.com\n", "leads.csv")
    with pytest.raises(MarketoTransportError) as caught:
        client.create_import(LeadImport(), data, retry_maybe_sent=False)
    assert caught.value.maybe_sent
    assert stats(sandbox)["calls_by_endpoint"]["POST /bulk/v1/leads.json"] == 1, "not repeated"
    assert client.create_import(LeadImport(), data, retry_maybe_sent=False).batch_id
