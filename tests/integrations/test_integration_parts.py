"""The integrations' parts that need no scheduler: the broker URL, the payload, the reads.

These run in the main virtualenv, where neither Airflow nor Dagster is installed;
the operator, trigger and sensor themselves are tested in a real Airflow
(``test_airflow.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import tomllib
from collections.abc import Callable
from typing import Any

import pytest
import redis
import redis.asyncio
from kombu.utils.url import url_to_parts

from tests.pipeline_helpers import ROOT, Pipeline, lead_rows, put_dataset
from workers.errors import InputError, LoadWaitTimeout, SettingsError
from workers.integrations.airflow import get_provider_info
from workers.integrations.airflow.payload import (
    COMMON_ARGUMENTS,
    build_payload,
    common_payload_fields,
)
from workers.integrations.broker import broker_address
from workers.integrations.loads import (
    aread_status,
    read_status,
    start,
    status_from_dict,
    verdict,
)
from workers.load_request import parse_load_request

PASSWORD = "p@ss/w:rd%1"


def _address(**fields: Any) -> Any:
    given: dict[str, Any] = {
        "conn_type": "redis",
        "host": "redis.internal",
        "port": None,
        "login": None,
        "password": None,
        "schema": None,
        "extra": {},
    }
    given.update(fields)
    return broker_address("Airflow connection 'mkto_bulk_default'", **given)


def test_the_broker_url_carries_the_password_quoted_and_nothing_printed_shows_it() -> None:
    address = _address(port=6380, login="airflow", password=PASSWORD, schema="2")

    url = address.url()
    assert url == "redis://airflow:p%40ss%2Fw%3Ard%251@redis.internal:6380/2"
    parts = url_to_parts(url)  # what Celery's broker connection reads
    assert (parts.hostname, parts.port, parts.username, parts.password, parts.path) == (
        "redis.internal", 6380, "airflow", PASSWORD, "2",
    )  # fmt: skip
    assert redis.connection.parse_url(url)["password"] == PASSWORD
    assert address.shown() == "redis://airflow:***@redis.internal:6380/2"
    for printed in (address.shown(), repr(address), str(address)):
        assert PASSWORD not in printed and "p%40ss" not in printed
    assert set(address.secrets()) == {PASSWORD, "p%40ss%2Fw%3Ard%251", url}


def test_the_database_comes_from_schema_or_extra_and_tls_from_the_extra_or_the_type() -> None:
    assert _address().url() == "redis://redis.internal:6379/0"
    assert _address(schema="3").url() == "redis://redis.internal:6379/3"
    assert _address(schema="3", extra={"db": 5}).url() == "redis://redis.internal:6379/5"
    assert _address(extra={"ssl": "true"}).url() == (
        "rediss://redis.internal:6379/0?ssl_cert_reqs=required"
    )
    assert _address(
        conn_type="rediss", password="x" * 8, extra={"ssl_cert_reqs": "none"}
    ).shown() == ("rediss://:***@redis.internal:6379/0?ssl_cert_reqs=none")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"host": ""}, "host is empty (Redis host)"),
        (
            {"host": "redis://:pw@redis.internal:6379/0"},
            "host must be a host name, not a URL (put the password in the password field, "
            "the database in schema)",
        ),
        ({"port": 99999}, "port '99999' is not a number from 1 to 65535"),
        (
            {"schema": "cache"},
            "database (schema or extra db) 'cache' is not a number from 0 to 1000000",
        ),
        (
            {"extra": {"ssl": True, "ssl_cert_reqs": "maybe"}},
            "extra ssl_cert_reqs 'maybe' is not one of none, optional, required",
        ),
    ],
)
def test_a_connection_that_names_no_broker_is_refused_naming_its_field(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        _address(**fields)
    assert str(caught.value) == f"Airflow connection 'mkto_bulk_default': {message}"
    assert ":pw@" not in str(caught.value), "a URL given as host is not echoed (it has a password)"


def test_the_operator_has_an_argument_for_every_field_that_is_not_an_object_types() -> None:
    # A new field every load has must become an argument; an object type's go in parameters.
    assert set(COMMON_ARGUMENTS.values()) == common_payload_fields()


def test_parameters_rendered_from_templates_give_the_payload_a_worker_accepts() -> None:
    payload = build_payload(
        {"source": "s3://etl/members.csv", "object": "programmembers", "format": None},
        {"programId": " 1044 ", "programMemberStatus": "Registered"},
    )

    assert payload == {
        "source": "s3://etl/members.csv",
        "object": "programmembers",
        "programId": 1044,  # text from a template, sent as the integer the field takes
        "programMemberStatus": "Registered",
    }
    assert parse_load_request(payload).to_json()["programId"] == 1044


def test_a_parameter_that_is_one_of_the_operators_arguments_is_refused_naming_it() -> None:
    with pytest.raises(InputError) as caught:
        build_payload({"source": "s3://etl/a.csv", "object": "leads"}, {"idempotencyKey": "k"})
    assert str(caught.value) == (
        "invalid load request: parameters: 'idempotencyKey' is the operator's argument "
        "idempotency_key=, not a parameter"
    )


def test_the_trigger_reads_the_same_load_as_the_operator_and_judges_it(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    header = "email,firstName,lastName,leadScore\n"
    source = put_dataset(s3_client, bucket, "in/few.csv", header + "".join(lead_rows(30)))
    pipeline.start_worker("a", concurrency=1)
    load_id = pipeline.start_load(source=source, object="leads", lookupField="email")
    pipeline.wait_until_finished(load_id)

    async def read(wanted: str) -> Any:
        client = redis.asyncio.Redis.from_url(pipeline.redis_url)
        try:
            return await aread_status(client, wanted)
        finally:
            await client.aclose()

    sync = read_status(pipeline.redis, load_id)
    assert sync is not None and sync.terminal
    assert asyncio.run(read(load_id)) == sync
    assert read_status(pipeline.redis, "no-such-load") is None
    assert asyncio.run(read("no-such-load")) is None
    assert status_from_dict(sync.as_dict()) == sync, "a trigger's event gives the status back"

    assert verdict(sync, fail_on_row_errors=True).message == (
        f"load {load_id} succeeded: 30 rows processed"
    )
    refused = dataclasses.replace(
        sync, state="succeeded_with_row_errors", rows_processed=29, rows_failed=1
    )
    lenient = verdict(refused, fail_on_row_errors=False)
    strict = verdict(refused, fail_on_row_errors=True)
    assert lenient.passed and not strict.passed and not strict.retry_can_help
    assert strict.message == (
        f"load {load_id} succeeded_with_row_errors: 29 rows processed, 1 row refused by "
        f"Marketo, 0 rows rejected before submission (failure files and report under "
        f"{sync.staging_uri}); fail_on_row_errors is set"
    )
    failed = verdict(dataclasses.replace(sync, state="failed", error="source missing"),
                     fail_on_row_errors=False)  # fmt: skip
    assert (failed.passed, failed.message) == (False, f"load {load_id} failed: source missing")
    stopped = dataclasses.replace(sync, state="cancelled", rows_submitted=10, rows_cancelled=20)
    cancelled = verdict(stopped, fail_on_row_errors=False)
    assert not cancelled.passed and not cancelled.retry_can_help
    assert cancelled.message == (
        f"load {load_id} cancelled: 10 rows sent, 20 rows not sent (mkto-bulk resume)"
    )


def test_a_start_the_workers_policy_refuses_fails_with_their_message_and_none_waits_in_time(
    pipeline_with: Callable[..., Pipeline], s3_client: Any, bucket: str
) -> None:
    from celery import Celery

    pipeline = pipeline_with(CALLBACK_QUEUES="etl-done")
    source = put_dataset(s3_client, bucket, "in/one.csv", "email\na@example.com\n")
    payload = {"source": source, "object": "leads", "callback": "etl.done", "callbackQueue": "etl"}
    app = Celery(broker=pipeline.redis_url, backend=pipeline.redis_url)

    with pytest.raises(LoadWaitTimeout) as waited:
        start(app, payload, timeout=1)  # no worker yet: the start stays queued
    assert str(waited.value).endswith(
        "in 1 s; it stays queued (are the workers running on this broker?)"
    )
    pipeline.start_worker("a", concurrency=1)
    with pytest.raises(InputError) as refused:
        start(app, payload, timeout=60)
    assert 'callbackQueue: "etl" is not in CALLBACK_QUEUES (etl-done)' in str(refused.value)
    app.close()


def test_only_each_integration_imports_its_scheduler_and_the_provider_entry_point_names_it() -> (
    None
):
    def importing(framework: str) -> list[str]:
        pattern = re.compile(rf"^\s*(from|import)\s+{framework}\b", re.MULTILINE)
        return sorted(
            str(path.relative_to(ROOT))
            for top in ("workers", "tasks", "beat_schedule", "infra")
            for path in (ROOT / top).rglob("*.py")
            if pattern.search(path.read_text())
        )

    airflow = "workers/integrations/airflow"
    assert importing("airflow") == [
        f"{airflow}/{m}.py" for m in ("hook", "operators", "sensors", "triggers")
    ]
    assert importing("dagster") == ["workers/integrations/dagster/resource.py"]

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    entry = project["entry-points"]["apache_airflow_provider"]["provider_info"]
    assert entry == "workers.integrations.airflow:get_provider_info"
    info = get_provider_info()
    assert info["package-name"] == project["name"]
    for kind in ("hooks", "operators", "sensors", "triggers"):
        (module,) = info[kind][0]["python-modules"]
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module
