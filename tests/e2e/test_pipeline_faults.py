"""The pipeline against bad input and a misbehaving or crowded Marketo, with real workers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.pipeline_helpers import (
    Pipeline,
    assert_rows_accounted,
    lead_rows,
    put_dataset,
    read_report,
)
from tests.sandbox_helpers import Caller, admin
from tests.services import Service, wait_for

HEADER = "email,firstName,lastName,leadScore\n"
CREATE_LEADS = "POST /bulk/v1/leads.json"


@pytest.fixture
def pipeline(pipeline_with: Callable[..., Pipeline], sandbox: Service) -> Pipeline:
    admin(sandbox, "PATCH", "/_sandbox/config", {"rate_limit_window": 2})
    return pipeline_with(
        CHUNK_BYTE_LIMIT="4096",
        TOO_MANY_IMPORTS_HOLD_S="0.5",
        JOB_MAX_ATTEMPTS="2",
        # A 606 holds every worker off for this long; the sandbox's window matches it.
        MARKETO_RATE_LIMIT_WINDOW_S="2",
        MARKETO_RATE_LIMIT_CALLS="50",
    )


def _fails_with(pipeline: Pipeline, s3_client: Any, load_id: str, *words: str) -> dict[str, Any]:
    load = pipeline.wait_until_finished(load_id, timeout=60)
    assert load["state"] == "failed", load
    report = read_report(s3_client, load["report_uri"])
    assert report["state"] == "failed"
    assert report["error"] == load["error"]
    for word in words:
        assert word in load["error"], load["error"]
    return report


def test_every_bad_input_fails_its_load_with_its_message_and_submits_nothing(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    rows = "".join(lead_rows(60))
    bad_utf8 = b"".join(b"bad\xff%d@example.com,B,C,1\n" % n for n in range(10))
    sources = {
        "missing": f"s3://{bucket}/in/nowhere.csv",
        "empty": put_dataset(s3_client, bucket, "in/empty.csv", ""),
        "header-only": put_dataset(s3_client, bucket, "in/header.csv", HEADER),
        "misspelled": put_dataset(
            s3_client, bucket, "in/typo.csv", "email,firstName,lastNmae,leadScore\n" + rows
        ),
        "rejects": put_dataset(
            s3_client, bucket, "in/rejects.csv", HEADER.encode() + bad_utf8 + rows.encode()
        ),
    }
    pipeline.start_worker("a")
    loads = {
        name: pipeline.start_load(source=source, object="leads", lookupField="email")
        for name, source in sources.items()
    }
    good = put_dataset(s3_client, bucket, "in/good.csv", HEADER + rows)
    loads["unknown-object"] = pipeline.start_load(
        source=good, object="customobjects", apiName="nosuchthing_c"
    )

    _fails_with(pipeline, s3_client, loads["missing"], "nowhere.csv")
    _fails_with(pipeline, s3_client, loads["empty"], "empty.csv", "empty")
    _fails_with(pipeline, s3_client, loads["header-only"], "header.csv", "header only")
    _fails_with(pipeline, s3_client, loads["misspelled"], "typo.csv", "lastNmae")
    _fails_with(pipeline, s3_client, loads["unknown-object"], "nosuchthing_c")
    report = _fails_with(pipeline, s3_client, loads["rejects"], "rejects.csv", "rejected")
    totals = report["totals"]
    assert totals["rows_read"] == 70
    assert totals["rows_rejected"] == 10
    assert totals["rows_submitted"] == 0
    assert totals["rows_not_submitted"] == 60
    assert report["rejects_file"]

    for load_id in loads.values():
        report = read_report(s3_client, pipeline.load(load_id)["report_uri"])
        assert report["totals"]["jobs_submitted"] == 0
        assert report["totals"]["rows_submitted"] == 0
    stats = admin(sandbox, "GET", "/_sandbox/stats")
    assert CREATE_LEADS not in stats["calls_by_endpoint"], stats["calls_by_endpoint"]
    assert stats["records"]["leads"] == 0


def test_a_load_rides_out_marketo_errors_and_retries_failed_jobs(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    source = put_dataset(s3_client, bucket, "in/leads.csv", HEADER + "".join(lead_rows(800)))
    for fault, count in (("606", 2), ("615", 3), ("5xx", 4), ("drop", 3), ("604", 2)):
        admin(sandbox, "POST", "/_sandbox/faults", {"fault": fault, "count": count,
                                                    "path_prefix": "/bulk/"})  # fmt: skip
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "job_failed", "count": 2})
    # Both failed jobs may be the same chunk (its retry can be the next job created).
    pipeline.env["JOB_MAX_ATTEMPTS"] = "3"
    pipeline.start_worker("a")
    pipeline.start_worker("b")

    load_id = pipeline.start_load(source=source, object="leads", lookupField="email")
    load = pipeline.wait_until_finished(load_id, timeout=120)

    report = read_report(s3_client, load["report_uri"])
    troubled = [c for c in report["chunks"] if c["state"] != "done" or c["failed"]]
    assert load["state"] == "succeeded", json.dumps(troubled)
    assert_rows_accounted(report)
    assert report["totals"]["rows_processed"] == 800
    assert report["totals"]["jobs_retried"] == 2
    assert sum(c["attempts"] for c in report["chunks"]) == len(report["chunks"]) + 2
    stats = admin(sandbox, "GET", "/_sandbox/stats")
    assert admin(sandbox, "GET", "/_sandbox/faults")["queued"] == [], "every fault was met"
    assert stats["jobs"].get("Failed") == 2
    assert stats["records"]["leads"] == 800
    assert stats["max_outstanding_jobs"] <= 10
    assert stats["too_many_imports_sent"] == 0


def test_a_job_that_fails_every_attempt_fails_the_load_with_marketos_message(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    source = put_dataset(s3_client, bucket, "in/one.csv", HEADER + "".join(lead_rows(20)))
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "job_failed", "count": 2})
    pipeline.start_worker("a")

    load_id = pipeline.start_load(source=source, object="leads", lookupField="email")
    load = pipeline.wait_until_finished(load_id, timeout=60)

    assert load["state"] == "failed"
    report = read_report(s3_client, load["report_uri"])
    assert report["state"] == "failed"
    (chunk,) = report["chunks"]
    assert chunk["state"] == "failed"
    assert chunk["marketo_status"] == "Failed"
    assert chunk["message"].startswith("Import failed"), chunk
    assert chunk["attempts"] == 2
    totals = report["totals"]
    assert totals["rows_in_failed_jobs"] == 20
    assert totals["chunks_failed"] == 1
    assert_rows_accounted(report)


def _fill_marketos_queue(sandbox: Service, stop: threading.Event, full: threading.Event) -> None:
    """Another integration on the same instance: POSTs jobs until Marketo answers 1016."""
    caller = Caller(sandbox)
    body = HEADER + "".join(lead_rows(5, start=100_000))
    while not stop.is_set():
        response = caller.upload("/bulk/v1/leads.json", body, format="csv", lookupField="email")
        answer = response.json()
        if not answer["success"]:
            assert answer["errors"][0]["code"] == "1016", answer
            full.set()
            stop.wait(0.3)


def test_a_queue_filled_by_another_client_makes_the_load_wait_not_fail(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    source = put_dataset(s3_client, bucket, "in/leads.csv", HEADER + "".join(lead_rows(400)))
    pipeline.start_worker("a")
    pipeline.wait_ready()
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": 1.0})
    stop, full = threading.Event(), threading.Event()
    foreign = threading.Thread(target=_fill_marketos_queue, args=(sandbox, stop, full))
    foreign.start()
    try:
        wait_for(full.is_set, timeout=20, what="the foreign client to fill the queue")
        load_id = pipeline.start_load(source=source, object="leads", lookupField="email")
        wait_for(
            lambda: int(pipeline.load(load_id).get("too_many_imports") or 0) > 0,
            timeout=30,
            what="our load to meet a full queue",
        )
    finally:
        stop.set()
        foreign.join(30)
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": 0.2})
    load = pipeline.wait_until_finished(load_id, timeout=120)

    assert load["state"] == "succeeded", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert report["totals"]["too_many_imports"] > 0
    assert_rows_accounted(report)
    assert report["totals"]["rows_processed"] == 400
    found = admin(sandbox, "GET", "/_sandbox/records/leads?email=lead399@example.com")
    assert found["count"] == 1
    stats = admin(sandbox, "GET", "/_sandbox/stats")
    assert stats["too_many_imports_sent"] > 0
    assert stats["max_outstanding_jobs"] <= 10
