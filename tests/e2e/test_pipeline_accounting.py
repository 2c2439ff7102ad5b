"""Loads that must not end quietly, with real workers: counts that do not add up, an
unexpected error in a step, and a daily quota used up (then raised) mid-load."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.pipeline_helpers import Pipeline, lead_rows, put_dataset, read_report
from tests.sandbox_helpers import admin
from tests.services import Service, wait_for
from workers.api import load_status
from workers.cli.status import details
from workers.state import keys
from workers.state.admission import Admission

HEADER = "email,firstName,lastName,leadScore\n"
CREATE_LEADS = "/bulk/v1/leads.json"
MKTO_BULK = str(Path(sys.executable).with_name("mkto-bulk"))


@pytest.fixture
def pipeline(pipeline_with: Callable[..., Pipeline]) -> Pipeline:
    return pipeline_with(QUOTA_RECHECK_S="1")


def _cli(pipeline: Pipeline, *args: str) -> str:
    done = subprocess.run(
        [MKTO_BULK, *args], env=pipeline.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _metrics(pipeline: Pipeline) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = _cli(pipeline, "metrics", "--once")
    return {
        (sample.name, tuple(sorted((k, v) for k, v in sample.labels.items() if k != "instance"))):
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }  # fmt: skip


def _admission(pipeline: Pipeline, sandbox: Service) -> Admission:
    instance = sandbox.url.split("://", 1)[1].rstrip("/")
    return Admission(pipeline.redis, instance)


def test_a_load_whose_counts_do_not_add_up_ends_counts_mismatch_and_says_where(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    source = put_dataset(s3_client, bucket, "in/13.csv", HEADER + "".join(lead_rows(13)))
    # Marketo's job silently leaves one row out: processed 12, failed 0, of 13 submitted.
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "skip_row", "count": 1})
    pipeline.start_worker("a", concurrency=1)
    load_id = pipeline.start_load(
        source=source, object="leads", callback="etl.load_finished", callbackQueue="etl"
    )

    load = pipeline.wait_until_finished(load_id, timeout=60)

    expected = (
        "counts do not add up: chunk 0 submitted 13 rows, Marketo processed 12 + failed 0; "
        "13 rows submitted, but Marketo processed 12 + failed 0 + 0 in failed jobs"
    )
    assert load["state"] == "counts_mismatch", pipeline.logs()[-3000:]
    assert load["error"] == expected
    report = read_report(s3_client, load["report_uri"])
    assert (report["state"], report["error"], report["counts_ok"]) == (
        "counts_mismatch",
        expected,
        False,
    )
    totals = report["totals"]
    assert (totals["rows_read"], totals["rows_submitted"], totals["rows_processed"]) == (13, 13, 12)
    assert report["chunks"][0]["rows"] == 13 and report["chunks"][0]["processed"] == 12
    status = load_status(load_id, redis_url=pipeline.redis_url)
    assert not status.ok and status.terminal
    assert f"error:     {expected}" in details(status)
    # The callback says so too.
    import base64
    import json

    messages = [json.loads(raw) for raw in pipeline.redis.lrange("etl", 0, -1)]
    _args, kwargs, _embed = json.loads(base64.b64decode(messages[0]["body"]))
    assert (kwargs["report"]["state"], kwargs["report"]["error"]) == ("counts_mismatch", expected)

    metrics = _metrics(pipeline)
    assert metrics[("mkto_bulk_loads", (("state", "counts_mismatch"),))] == 1
    assert metrics[("mkto_bulk_counts_mismatch_total", ())] == 1


def test_an_unexpected_error_in_submit_fails_its_chunk_frees_the_permit_and_others_load(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    """Marketo answers the job create with a batchId the client cannot read, every time."""
    source = put_dataset(s3_client, bucket, "in/five.csv", HEADER + "".join(lead_rows(5)))
    admin(sandbox, "POST", "/_sandbox/faults",
          {"fault": "garbled", "count": 3, "path_prefix": CREATE_LEADS})  # fmt: skip
    pipeline.start_worker("a", concurrency=1)
    first = pipeline.start_load(source=source, object="leads")

    load = pipeline.wait_until_finished(first, timeout=90)

    reason = "ValueError: invalid literal for int() with base 10: 'garbled'"
    chunk = pipeline.chunk(first, 0)
    assert load["state"] == "failed", pipeline.logs()[-3000:]
    assert chunk["state"] == "failed"
    assert chunk["message"] == f"submit failed 3 times with an unexpected error: {reason}"
    assert load["last_error"] == f"chunk 0 submit: {reason}"
    lines = details(load_status(first, redis_url=pipeline.redis_url))
    assert (
        f"           chunk 0 failed: submit failed 3 times with an unexpected error: {reason}"
        in (lines)
    )
    report = read_report(s3_client, load["report_uri"])
    assert report["totals"]["rows_in_failed_jobs"] == 5
    assert report["totals"]["possible_double_submissions"] == 2  # the answer may hide a job
    admission = _admission(pipeline, sandbox)
    assert not admission.holds(f"{first}:0")

    second = pipeline.start_load(source=source, object="leads")
    assert pipeline.wait_until_finished(second, timeout=60)["state"] == "succeeded"
    permits = [
        m.decode() for m in cast(list[bytes], pipeline.redis.zrange(admission._permits, 0, -1))
    ]
    assert all(p.startswith("ghost:") for p in permits), permits  # only a job we cannot see

    def nothing_held() -> bool:
        admission.grant()  # drops the ghost slot once the job it covers would be done
        return admission.snapshot().outstanding == 0

    wait_for(nothing_held, timeout=30, what="the ghost slot to free itself")


def _next_chicago_midnight() -> datetime:
    chicago = ZoneInfo("America/Chicago")
    today = datetime.now(chicago).date()
    tomorrow = today + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=chicago)


def test_a_load_waits_for_the_daily_quota_says_so_and_resumes_when_the_quota_is_raised(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    # Our share: 2 calls (describe, create); the first poll finds it used up.
    pipeline.env.update(MARKETO_DAILY_QUOTA="2", MARKETO_DAILY_QUOTA_RESERVE="0")
    source = put_dataset(s3_client, bucket, "in/q.csv", HEADER + "".join(lead_rows(7)))
    pipeline.start_worker("a", concurrency=1)
    load_id = pipeline.start_load(source=source, object="leads")

    wait_for(lambda: bool(pipeline.load(load_id).get("waiting")), timeout=60,
             what="the load to wait for the quota")  # fmt: skip

    midnight = _next_chicago_midnight()
    text = (
        "waiting for the daily quota to reset at "
        f"{midnight:%Y-%m-%d %H:%M %Z} (America/Chicago), "
        f"{midnight.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    )
    assert pipeline.load(load_id)["state"] == "loading"
    assert f"state:     loading, {text}" in _cli(pipeline, "status", load_id)
    assert "loading (waiting for the daily quota)" in _cli(pipeline, "status")
    metrics = _metrics(pipeline)
    assert metrics[("mkto_bulk_loads_waiting", (("reason", "daily_quota"),))] == 1
    assert metrics[("mkto_bulk_marketo_daily_share", ())] == 2
    assert "our share:   2; used today 2  (used up: loads wait for the reset)" in _cli(
        pipeline, "quota", "show"
    )

    shown = _cli(pipeline, "quota", "set", "1000")  # no worker restarts

    assert "daily quota: 1,000 (set with `mkto-bulk quota set`)" in shown
    load = pipeline.wait_until_finished(load_id, timeout=60)
    assert load["state"] == "succeeded", pipeline.logs()[-3000:]
    assert "waiting" not in load
    report = read_report(s3_client, load["report_uri"])
    assert report["totals"]["rows_processed"] == 7
    assert report["totals"]["quota_waits"] == 1
    assert report["last_wait"] == text
    assert _metrics(pipeline)[("mkto_bulk_loads_waiting", (("reason", "daily_quota"),))] == 0
    assert all(p.poll() is None for p in pipeline.workers), "the worker was never restarted"


def test_a_task_that_fails_unexpectedly_outside_a_step_is_retried_twice_then_fails_plainly(
    pipeline: Pipeline,
) -> None:
    # A load record whose figures cannot be read (damaged by hand): not an error of ours
    # or Marketo's, so it is retried a bounded number of times, then fails plainly.
    pipeline.redis.hset(keys.load("damaged"), mapping={"state": "loading", "chunks_total": "x"})
    pipeline.start_worker("a", concurrency=1)
    result = pipeline.celery().send_task("mkto_bulk.finish_load", args=("damaged",),
                                         queue="mkto_poll")  # fmt: skip
    message = (
        "mkto_bulk.finish_load failed 3 times with an unexpected error: "
        "DamagedLedgerRecord: load 'damaged' in the ledger cannot be read: params: missing; "
        "created_at: missing; updated_at: missing; chunks_total: 'x' is not an integer"
    )
    with pytest.raises(Exception, match=f"^{re.escape(message)}$"):
        result.get(timeout=60)
    assert result.state == "FAILURE"
    assert pipeline.logs().count("mkto_bulk.finish_load: unexpected error (attempt") == 3


def test_a_step_for_a_load_that_does_not_exist_fails_at_once_naming_it(
    pipeline: Pipeline,
) -> None:
    pipeline.start_worker("a", concurrency=1)
    result = pipeline.celery().send_task("mkto_bulk.finish_load", args=("no-such-load",),
                                         queue="mkto_poll")  # fmt: skip
    with pytest.raises(Exception, match=r"^no load 'no-such-load'$"):
        result.get(timeout=60)
    assert result.state == "FAILURE"
    assert "unexpected error (attempt" not in pipeline.logs()
