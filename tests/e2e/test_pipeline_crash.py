"""Crashes mid-load: workers killed with SIGKILL at chosen points, and a Redis restart.

Killed workers' messages stay unacknowledged in Redis until the broker's
visibility timeout (far longer than these tests), so what finishes each load
here is the ledger and the reconciler that beat runs every second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline_helpers import (
    FAST_RECOVERY,
    Pipeline,
    assert_rows_accounted,
    lead_rows,
    pipeline_env,
    put_dataset,
    read_report,
)
from tests.redis_restart import restart
from tests.sandbox_helpers import admin
from tests.services import Service, start_redis, wait_for

HEADER = "email,firstName,lastName,leadScore\n"
ROWS = 5000
BAD_ROWS = (1200, 4000, ROWS - 3)  # Marketo fails these rows: their chunks have failure files
SLOW_S = 1.0

# Short leases, so that what a killed worker held comes free in seconds. A submit
# lock lasts 2 x MARKETO_CALL_LEASE_S; the call lease must outlast one call.
CRASH_ENV = {
    **FAST_RECOVERY,
    # Marketo's 100 calls per window, with a short window (the sandbox's is set to match).
    "MARKETO_RATE_LIMIT_WINDOW_S": "5",
}


def _pipeline(redis_url: str, s3: Service, sandbox: Service, bucket: str, logdir: Path) -> Pipeline:
    env = pipeline_env(redis_url, s3, sandbox, bucket, **CRASH_ENV)
    admin(sandbox, "PATCH", "/_sandbox/config",
          {"faults": {"slow_seconds": SLOW_S}, "rate_limit_window": 5})  # fmt: skip
    return Pipeline(env, redis_url, bucket, logdir)


@pytest.fixture
def pipeline(
    redis_url: str, s3_service: Service, sandbox: Service, bucket: str, tmp_path: Path
) -> Iterator[Pipeline]:
    running = _pipeline(redis_url, s3_service, sandbox, bucket, tmp_path)
    yield running
    running.stop()


def _dataset() -> str:
    rows = list(lead_rows(ROWS))
    for n in BAD_ROWS:
        rows[n] = f"typo{n}@example.com,Bad,Score,not-a-number\n"
    return HEADER + "".join(rows)


def _watch(what: str, condition: Callable[[], bool], timeout: float = 60) -> None:
    wait_for(condition, timeout=timeout, interval=0.01, what=what)


def _slow_next_call(sandbox: Service, path: str) -> None:
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "slow", "count": 1, "path_prefix": path})


def _slow_call_started(sandbox: Service) -> bool:
    return not admin(sandbox, "GET", "/_sandbox/faults")["queued"]


def _picked(pick: Callable[[], tuple[str, str] | None]) -> tuple[str, str]:
    found: list[tuple[str, str]] = []

    def picked() -> bool:
        found[:] = [choice] if (choice := pick()) else []
        return bool(found)

    _watch("a chunk to pick", picked, timeout=90)
    return found[0]


def _kill_during_call(
    pipeline: Pipeline,
    sandbox: Service,
    load_id: str,
    pick: Callable[[], tuple[str, str] | None],
    state: str,
    replacement: str,
) -> None:
    """Slow down the next call on a picked chunk's path; kill the worker while it waits.

    A chunk can move on before its fault is queued: then another one is picked.
    """
    for _ in range(20):
        index, path = _picked(pick)
        _slow_next_call(sandbox, path)

        def started_or_gone(index: str = index) -> bool:
            moved_on = pipeline.chunk(load_id, index)["state"] not in ("submitted", state)
            return _slow_call_started(sandbox) or moved_on

        _watch(f"a slow call on {path}", started_or_gone)
        if _slow_call_started(sandbox):
            _replace_worker(pipeline, replacement)
            assert pipeline.chunk(load_id, index)["state"] in ("submitted", state)
            return
        admin(sandbox, "DELETE", "/_sandbox/faults")
    raise AssertionError("no chunk could be caught mid-call")


def _replace_worker(pipeline: Pipeline, name: str) -> None:
    (worker,) = pipeline.workers
    pipeline.kill_worker(worker)
    pipeline.start_worker(name)


def test_a_worker_killed_at_any_step_loses_no_row_and_counts_double_submissions(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    source = put_dataset(s3_client, bucket, "in/leads.csv", _dataset())
    pipeline.start_beat()
    pipeline.start_worker("w1")
    load_id = pipeline.start_load(source=source, object="leads", lookupField="email")

    # 1. During the split: some chunks recorded, the rest not yet.
    def splitting() -> bool:
        return pipeline.load(load_id)["state"] == "splitting" and len(pipeline.chunks(load_id)) >= 3

    _watch("the split to be half done", splitting)
    _replace_worker(pipeline, "w2")
    assert pipeline.load(load_id)["state"] == "splitting"

    # 2. Just after a POST, before its batch id is in the ledger: Marketo takes
    # the upload (the slow answer comes after the worker is gone) and runs the job.
    _slow_next_call(sandbox, "/bulk/v1/leads.json")
    _watch("a slow import POST", lambda: _slow_call_started(sandbox))
    _replace_worker(pipeline, "w3")
    orphaned = [c for c in pipeline.chunks(load_id) if c["state"] == "submitting"
                and c.get("post_started_at")]  # fmt: skip
    assert orphaned, "a chunk was caught mid-POST"

    # 3. During a status poll.
    def polled_next() -> tuple[str, str] | None:
        found = [c for c in pipeline.chunks(load_id) if c["state"] == "submitted"]
        if not found:
            return None
        return found[0]["index"], f"/bulk/v1/leads/batch/{found[0]['batch_id']}.json"

    _kill_during_call(pipeline, sandbox, load_id, polled_next, "submitted", "w4")

    # 4. While collecting a job's failure file.
    def collected_next() -> tuple[str, str] | None:
        found = [
            c
            for c in pipeline.chunks(load_id)
            if c["state"] == "submitted"
            and any(int(c["first_line"]) <= n + 2 <= int(c["last_line"]) for n in BAD_ROWS)
        ]
        if not found:
            return None
        return found[0]["index"], f"/bulk/v1/leads/batch/{found[0]['batch_id']}/failures.json"

    _kill_during_call(pipeline, sandbox, load_id, collected_next, "collecting", "w5")

    load = pipeline.wait_until_finished(load_id, timeout=120)
    assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    totals = report["totals"]
    assert totals["rows_read"] == ROWS
    assert totals["rows_failed"] == len(BAD_ROWS)
    assert totals["rows_processed"] == ROWS - len(BAD_ROWS)
    assert totals["possible_double_submissions"] >= 1
    doubled = {c["chunk"]: c["submissions"] for c in report["chunks"]}
    assert all(doubled[int(c["index"])] >= 2 for c in orphaned), doubled
    assert all(c["state"] == "done" for c in report["chunks"])
    assert sum(1 for c in report["chunks"] if c["failures_file"]) == len(BAD_ROWS)
    stats = admin(sandbox, "GET", "/_sandbox/stats")
    assert stats["records"]["leads"] == ROWS - len(BAD_ROWS)
    assert stats["jobs"]["Complete"] > totals["chunks"], "the orphaned POST ran in Marketo too"
    assert stats["max_outstanding_jobs"] <= 10
    assert stats["too_many_imports_sent"] == 0


def test_a_redis_restart_mid_load_loses_no_row(
    sandbox: Service, s3_service: Service, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    redis = start_redis(tmp_path, appendonly=True)
    pipeline = _pipeline(redis.url, s3_service, sandbox, bucket, tmp_path)
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": 0.3})
    try:
        source = put_dataset(s3_client, bucket, "in/leads.csv", _dataset())
        pipeline.start_beat()
        pipeline.start_worker("a")
        load_id = pipeline.start_load(source=source, object="leads", lookupField="email")
        _watch("some chunks done", lambda: int(pipeline.load(load_id).get("chunks_done") or 0) >= 5)

        restart(redis)

        # Nobody restarts the worker (it reconnects by itself, workers/kombu_patch.py) or
        # beat (a tick that cannot reach Redis is tried again, workers/schedule/beat_scheduler.py).
        load = pipeline.wait_until_finished(load_id, timeout=90)
        assert [beat.poll() for beat in pipeline.beats] == [None]
        assert all(p.poll() is None for p in pipeline.workers), pipeline.logs()[-3000:]
        assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
        report = read_report(s3_client, load["report_uri"])
        assert_rows_accounted(report)
        assert report["totals"]["rows_processed"] == ROWS - len(BAD_ROWS)
        stats = admin(sandbox, "GET", "/_sandbox/stats")
        assert stats["records"]["leads"] == ROWS - len(BAD_ROWS)
        assert stats["max_outstanding_jobs"] <= 10
        assert stats["too_many_imports_sent"] == 0
    finally:
        pipeline.stop()
        redis.stop()
