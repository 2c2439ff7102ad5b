"""The split lease: a killed splitter is replaced within a minute, a slow live one never is."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline_helpers import (
    Pipeline,
    assert_rows_accounted,
    lead_rows,
    pipeline_env,
    put_dataset,
    read_report,
)
from tests.sandbox_helpers import admin
from tests.services import Service, wait_for

pytestmark = pytest.mark.serial  # a dead splitter is replaced within a minute

HEADER = "email,firstName,lastName,leadScore\n"
ROWS = 3000
NOTICED_WITHIN_S = 60  # a dead splitter's load is split again and finished within this
# What the killed worker held besides the split lease (permits, call slots) comes free
# in seconds, so the time measured is the split lease's.
FAST_PERMITS = {
    "CHUNK_BYTE_LIMIT": "4096",
    "PERMIT_LEASE_S": "3",
    "MARKETO_CONNECT_TIMEOUT_S": "1",
    "MARKETO_READ_TIMEOUT_S": "2",
    "MARKETO_CALL_LEASE_S": "3.5",
}


def _pipeline(
    redis_url: str, s3: Service, sandbox: Service, bucket: str, logdir: Path, **env: str
) -> Pipeline:
    settings = {**FAST_PERMITS, **env}
    return Pipeline(
        pipeline_env(redis_url, s3, sandbox, bucket, **settings), redis_url, bucket, logdir
    )


@pytest.fixture
def source(s3_client: Any, bucket: str) -> str:
    return put_dataset(s3_client, bucket, "in/leads.csv", HEADER + "".join(lead_rows(ROWS)))


def _assert_loaded_exactly(
    pipeline: Pipeline, s3_client: Any, sandbox: Service, load: dict[str, str]
) -> None:
    assert load["state"] == "succeeded", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    assert report["totals"]["rows_read"] == ROWS
    assert report["totals"]["rows_processed"] == ROWS
    assert report["totals"]["rows_rejected"] == 0
    assert admin(sandbox, "GET", "/_sandbox/stats")["records"]["leads"] == ROWS


@pytest.fixture
def killed(
    redis_url: str, s3_service: Service, sandbox: Service, bucket: str, tmp_path: Path
) -> Iterator[Pipeline]:
    # The default lease (30 s, renewed every 5 s); a sweep every 5 s.
    running = _pipeline(redis_url, s3_service, sandbox, bucket, tmp_path, RECONCILE_INTERVAL_S="5")
    yield running
    running.stop()


def test_a_killed_splitter_is_replaced_and_the_load_finishes_within_a_minute(
    killed: Pipeline, sandbox: Service, s3_client: Any, source: str
) -> None:
    pipeline = killed
    pipeline.start_beat()
    pipeline.start_worker("w1")
    load_id = pipeline.start_load(source=source, object="leads", lookupField="email")

    def first_chunk_recorded() -> bool:
        return pipeline.load(load_id).get("state") == "splitting" and bool(pipeline.chunks(load_id))

    wait_for(first_chunk_recorded, timeout=60, interval=0.01, what="the first chunk in the ledger")
    (worker,) = pipeline.workers
    pipeline.kill_worker(worker)
    killed_at = time.monotonic()
    assert pipeline.load(load_id)["state"] == "splitting"
    assert pipeline.load(load_id)["split_runs"] == "1"
    pipeline.start_worker("w2")

    load = pipeline.wait_until_finished(load_id, timeout=NOTICED_WITHIN_S)
    assert time.monotonic() - killed_at < NOTICED_WITHIN_S
    assert load["split_runs"] == "2", "split again once, after the lease lapsed"
    _assert_loaded_exactly(pipeline, s3_client, sandbox, load)


@pytest.fixture
def slow(
    redis_url: str, s3_service: Service, sandbox: Service, bucket: str, tmp_path: Path
) -> Iterator[Pipeline]:
    # A 2 s lease renewed every 0.5 s, and a reconciler looking every 0.5 s for lapsed ones.
    running = _pipeline(
        redis_url, s3_service, sandbox, bucket, tmp_path,
        SPLIT_LEASE_S="2", SPLIT_LEASE_RENEW_S="0.5", RECONCILE_INTERVAL_S="0.5",
        MARKETO_READ_TIMEOUT_S="10", MARKETO_CALL_LEASE_S="12",
    )  # fmt: skip
    yield running
    running.stop()


def test_a_live_split_slower_than_its_lease_is_never_taken_over(
    slow: Pipeline, sandbox: Service, s3_client: Any, source: str
) -> None:
    pipeline = slow
    # Marketo's describe, inside the split, takes 6 s: three lease lifetimes.
    # (Below MARKETO_READ_TIMEOUT_S, so the call is slow but answers.)
    admin(sandbox, "PATCH", "/_sandbox/config", {"faults": {"slow_seconds": 6.0}})
    admin(sandbox, "POST", "/_sandbox/faults",
          {"fault": "slow", "count": 1, "path_prefix": "/rest/v1/leads/describe"})  # fmt: skip
    pipeline.start_beat()
    pipeline.start_worker("w1")
    pipeline.start_worker("w2")
    load_id = pipeline.start_load(source=source, object="leads", lookupField="email")

    load = pipeline.wait_until_finished(load_id, timeout=120)
    assert not admin(sandbox, "GET", "/_sandbox/faults")["queued"], "the describe was slow"
    assert load["split_runs"] == "1", pipeline.logs()[-3000:]
    assert "lease lost" not in pipeline.logs()
    _assert_loaded_exactly(pipeline, s3_client, sandbox, load)
