"""The Data Ingestion client against the sandbox over HTTP: accepted, refused, retried, limited."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.marketo_helpers import make_client
from tests.sandbox_helpers import admin, configure, drain, ingestion_request, records
from tests.services import Service
from workers.errors import (
    DailyQuotaExhausted,
    IngestionNotEntitled,
    IngestionRefused,
    SettingsError,
)
from workers.marketo import MarketoClient
from workers.marketo.budgets import next_reset
from workers.marketo.ingestion import IngestionClient, IngestionRequest, ingestion_client

PERSONS = {"dedupeFields": {"field1": "email"}, "persons": [{"email": "ann@example.com"}]}


def persons(*emails: str) -> IngestionRequest:
    body = {"dedupeFields": {"field1": "email"}, "persons": [{"email": e} for e in emails]}
    return IngestionRequest.of("/persons", body, len(emails))


@pytest.fixture
def marketo(sandbox: Service, redis_url: str) -> MarketoClient:
    return make_client(sandbox, redis_url)


@pytest.fixture
def client(marketo: MarketoClient) -> IngestionClient:
    return ingestion_client(marketo)


def queue_fault(sandbox: Service, fault: str, count: int = 1) -> None:
    body: dict[str, Any] = {"fault": fault, "count": count, "path_prefix": "/subscriptions/"}
    admin(sandbox, "POST", "/_sandbox/faults", body)


def test_an_accepted_request_has_its_id_and_its_records_land(
    sandbox: Service, client: IngestionClient
) -> None:
    accepted = client.send(persons("ann@example.com", "bob@example.com"), correlation_id="load-1")
    assert accepted.request_id and accepted.objects == 2 and accepted.retries == 0
    drain(sandbox)
    summary = ingestion_request(sandbox, accepted.request_id)
    assert (summary["status"], summary["applied"], summary["failed"]) == ("applied", 2, 0)
    assert summary["correlation_id"] == "load-1"
    assert summary["request_source"] == "mkto-bulk"
    assert records(sandbox, "leads", email="bob@example.com")


def test_invalid_data_fails_the_request_with_marketos_message_and_is_not_repeated(
    sandbox: Service, client: IngestionClient
) -> None:
    bad = IngestionRequest.of("/persons", {"persons": []}, 0)
    with pytest.raises(IngestionRefused) as raised:
        client.send(bad)
    assert raised.value.code == "4000802"
    assert "Invalid data" in raised.value.message
    assert admin(sandbox, "GET", "/_sandbox/ingestion/stats")["requests"]["rejected"] == 1


def test_an_instance_without_the_entitlement_is_named_and_not_retried(
    sandbox: Service, client: IngestionClient
) -> None:
    configure(sandbox, ingestion={"entitled": False})
    with pytest.raises(IngestionNotEntitled, match="not entitled to the Data Ingestion API"):
        client.send(persons("ann@example.com"))
    assert admin(sandbox, "GET", "/_sandbox/stats")["calls_by_code"].get("4030801") == 1


@pytest.mark.parametrize("fault", ["429", "500", "drop", "garbled"])
def test_rate_limits_server_errors_and_unclear_answers_are_retried(
    sandbox: Service, client: IngestionClient, fault: str
) -> None:
    queue_fault(sandbox, fault)
    accepted = client.send(persons("ann@example.com"))
    assert accepted.retries == 1
    # A drop or an answer that is not the documented 202 may have been taken: the request
    # is sent again (an upsert) and that is counted.
    assert accepted.maybe_repeated == (fault in ("drop", "garbled"))
    drain(sandbox)
    assert records(sandbox, "leads", email="ann@example.com")


def test_an_expired_token_is_refreshed_once_and_the_request_repeated(
    sandbox: Service, marketo: MarketoClient, client: IngestionClient
) -> None:
    client.send(persons("ann@example.com"))
    fetched = marketo.metrics.snapshot()["tokens_fetched"]
    queue_fault(sandbox, "601")
    client.send(persons("bob@example.com"))
    assert marketo.metrics.snapshot()["tokens_fetched"] == fetched + 1
    drain(sandbox)
    assert records(sandbox, "leads", email="bob@example.com")


def test_marketos_daily_quota_stops_every_worker_until_the_reset(
    sandbox: Service, marketo: MarketoClient, client: IngestionClient
) -> None:
    configure(sandbox, ingestion={"daily_objects": 2})
    client.send(persons("a@example.com", "b@example.com"))
    with pytest.raises(DailyQuotaExhausted) as raised:
        client.send(persons("c@example.com"))
    assert raised.value.code == "4290801"
    assert raised.value.resets_at == next_reset(marketo.clock())
    other = ingestion_client(marketo)  # another worker: stopped before it calls
    calls = admin(sandbox, "GET", "/_sandbox/stats")["calls_by_code"].get("4290801")
    with pytest.raises(DailyQuotaExhausted, match="daily objects is used"):
        other.send(persons("d@example.com"))
    assert admin(sandbox, "GET", "/_sandbox/stats")["calls_by_code"].get("4290801") == calls


def test_the_token_travels_only_in_its_header_and_never_reaches_a_log_or_an_error(
    sandbox: Service, marketo: MarketoClient, client: IngestionClient, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    client.send(persons("ann@example.com"))
    token = marketo.auth.token()
    queue_fault(sandbox, "601", count=10)  # refreshed once, then the error is raised
    with pytest.raises(Exception) as raised:
        client.send(persons("bob@example.com"))
    assert token not in str(raised.value) and token not in repr(raised.value)
    assert token not in caplog.text
    assert marketo.config.client_secret.get_secret_value() not in caplog.text


def test_a_request_over_marketos_limits_is_refused_before_it_is_sent(
    client: IngestionClient,
) -> None:
    with pytest.raises(ValueError, match="at most 1,000 objects"):
        client.send(persons(*(f"p{i}@example.com" for i in range(1_001))))


def test_without_a_munchkin_id_the_ingestion_client_cannot_be_built(
    sandbox: Service, redis_url: str
) -> None:
    with pytest.raises(SettingsError, match="MARKETO_MUNCHKIN_ID is required"):
        ingestion_client(make_client(sandbox, redis_url, munchkin_id=None))
