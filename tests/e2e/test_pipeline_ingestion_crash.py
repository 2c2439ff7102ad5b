"""Ingestion loads under stress: a worker SIGKILLed mid-request, and three workers that never
go past the shared requests-per-second share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.pipeline_helpers import (
    Pipeline,
    assert_rows_accounted,
    lead_rows,
    put_dataset,
    read_report,
)
from tests.sandbox_helpers import admin, configure, drain
from tests.services import Service, wait_for

HEADER = "email,firstName,lastName,leadScore\n"
FAST_RECOVERY = {
    "CHUNK_BYTE_LIMIT": "4096",
    "PERMIT_LEASE_S": "3",
    "MARKETO_CONNECT_TIMEOUT_S": "1",
    "MARKETO_READ_TIMEOUT_S": "2",
    "MARKETO_CALL_LEASE_S": "3.5",
    "RECONCILE_INTERVAL_S": "1",
}


def _watch(what: str, condition: Callable[[], bool], timeout: float = 60) -> None:
    wait_for(condition, timeout=timeout, interval=0.01, what=what)


def test_a_worker_killed_mid_request_leaves_a_load_that_finishes_with_every_row(
    pipeline_with: Callable[..., Pipeline], sandbox: Service, s3_client: Any, bucket: str
) -> None:
    pipeline = pipeline_with(**FAST_RECOVERY)
    configure(sandbox, faults={"slow_seconds": 1.0})
    rows = 3000
    source = put_dataset(s3_client, bucket, "in/leads.csv", HEADER + "".join(lead_rows(rows)))
    pipeline.start_beat()
    pipeline.start_worker("w1")
    load_id = pipeline.start_load(source=source, object="leads", api="ingestion")

    def some_sent() -> bool:
        return admin(sandbox, "GET", "/_sandbox/ingestion/stats")["requests"]["pending"] >= 3

    _watch("a few requests sent", some_sent)
    body = {"fault": "slow", "count": 1, "path_prefix": "/subscriptions/"}
    admin(sandbox, "POST", "/_sandbox/faults", body)
    _watch("a slow request", lambda: not admin(sandbox, "GET", "/_sandbox/faults")["queued"])
    (worker,) = pipeline.workers
    pipeline.kill_worker(worker)  # its request is taken by Marketo; its answer is lost
    pipeline.start_worker("w2")

    load = pipeline.wait_until_finished(load_id, timeout=120)
    assert load["state"] == "succeeded", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    assert report["totals"]["rows_processed"] == rows
    assert report["totals"]["possible_double_submissions"] >= 1
    drain(sandbox)
    assert admin(sandbox, "GET", "/_sandbox/stats")["records"]["leads"] == rows


def test_three_workers_keep_to_the_requests_per_second_share(
    pipeline_with: Callable[..., Pipeline], sandbox: Service, s3_client: Any, bucket: str
) -> None:
    # Marketo allows 20 requests a second here; our share is 10, across every worker.
    configure(sandbox, ingestion={"requests_per_second": 20})
    pipeline = pipeline_with(
        CHUNK_BYTE_LIMIT="2048", MARKETO_INGESTION_REQUESTS_PER_S="10",
        INGESTION_CHUNKS_IN_FLIGHT="12",
    )  # fmt: skip
    rows = 2500
    source = put_dataset(s3_client, bucket, "in/leads.csv", HEADER + "".join(lead_rows(rows)))
    for name in ("a", "b", "c"):
        pipeline.start_worker(name, concurrency=4)
    load_id = pipeline.start_load(source=source, object="leads", api="ingestion")

    load = pipeline.wait_until_finished(load_id, timeout=120)
    assert load["state"] == "succeeded", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert report["totals"]["chunks"] >= 40, "enough requests to find the limit"
    codes = admin(sandbox, "GET", "/_sandbox/stats")["calls_by_code"]
    assert "429001" not in codes, codes
    drain(sandbox)
    assert admin(sandbox, "GET", "/_sandbox/stats")["records"]["leads"] == rows
