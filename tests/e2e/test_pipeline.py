"""The load pipeline end to end: real workers, Redis, S3 endpoint and sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from tests.pipeline_helpers import Pipeline, lead_rows, put_dataset, read_report
from tests.sandbox_helpers import admin
from tests.services import SANDBOX_CLIENT_SECRET, Service

HEADER = "email,firstName,lastName,leadScore\n"


# The one whole load also run on SeaweedFS: workers reading, writing and streaming uploads
# from a server that checks their signatures.
@pytest.mark.s3_endpoints
def test_a_lead_load_accounts_for_every_row_and_keeps_marketos_queue_limits(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    good = list(lead_rows(1500))
    bad_type = ["typo@example.com,Bad,Score,not-a-number\n"]  # Marketo fails this row
    body = HEADER + "".join(good[:700] + bad_type + good[700:])
    source = put_dataset(s3_client, bucket, "in/leads.csv", body)
    pipeline.start_worker("a")
    pipeline.start_worker("b")

    load_id = pipeline.start_load(source=source, object="leads", lookupField="email")
    load = pipeline.wait_until_finished(load_id)

    assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    totals = report["totals"]
    assert totals["rows_read"] == 1501
    assert totals["rows_read"] == totals["rows_submitted"] + totals["rows_rejected"]
    assert totals["rows_submitted"] == totals["rows_processed"] + totals["rows_failed"]
    assert totals["rows_failed"] == 1
    assert totals["chunks"] > 10, "small limit: many chunks, so admission is exercised"
    assert all(c["state"] == "done" and c["batch_id"] for c in report["chunks"])
    failures = [c["failures_file"] for c in report["chunks"] if c["failures_file"]]
    assert len(failures) == 1
    fbucket, fkey = failures[0].removeprefix("s3://").split("/", 1)
    failure_file = s3_client.get_object(Bucket=fbucket, Key=fkey)["Body"].read().decode()
    assert "typo@example.com" in failure_file

    stats = admin(sandbox, "GET", "/_sandbox/stats")
    assert stats["records"]["leads"] == 1500
    assert stats["max_outstanding_jobs"] <= 10
    assert stats["max_importing_jobs"] <= 2
    assert stats["too_many_imports_sent"] == 0
    assert SANDBOX_CLIENT_SECRET not in pipeline.logs()


def test_the_same_idempotency_key_starts_one_load(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    source = put_dataset(s3_client, bucket, "in/small.csv", HEADER + "".join(lead_rows(5)))
    pipeline.start_worker("a", concurrency=1)
    first = pipeline.start_load(source=source, object="leads", idempotencyKey="nightly:2026-11-22")
    second = pipeline.start_load(source=source, object="leads", idempotencyKey="nightly:2026-11-22")
    assert first == second
    assert pipeline.wait_until_finished(first)["state"] == "succeeded"


def test_the_callback_task_gets_the_report_on_the_etls_own_queue(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    import base64
    import json

    source = put_dataset(s3_client, bucket, "in/cb.csv", HEADER + "".join(lead_rows(3)))
    pipeline.start_worker("a", concurrency=1)
    load_id = pipeline.start_load(
        source=source, object="leads", callback="etl.load_finished", callbackQueue="etl"
    )
    assert pipeline.wait_until_finished(load_id)["state"] == "succeeded"
    messages = [json.loads(raw) for raw in pipeline.redis.lrange("etl", 0, -1)]
    assert [m["headers"]["task"] for m in messages] == ["etl.load_finished"]
    _args, kwargs, _embed = json.loads(base64.b64decode(messages[0]["body"]))
    report = kwargs["report"]
    assert report["load_id"] == load_id and report["state"] == "succeeded"
    assert report["totals"]["rows_processed"] == 3
    assert report["report_uri"].endswith(f"/{load_id}/report.json")


def test_an_invalid_payload_sent_by_an_etl_is_rejected_naming_the_field(
    pipeline: Pipeline,
) -> None:
    pipeline.start_worker("a", concurrency=1)
    result = pipeline.celery().send_task(
        "mkto_bulk.start_load", kwargs={"source": "s3://etl-out/k.csv", "object": "customobjects"}
    )
    with pytest.raises(Exception, match="apiName: required when object is customobjects"):
        result.get(timeout=60)
    assert pipeline.redis.zcard("mkto:loads") == 0, "nothing was recorded or started"
