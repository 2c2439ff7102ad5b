"""Redis restarts under running workers that nobody restarts: every worker stays up by itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from tests.pipeline_helpers import (
    FAST_RECOVERY,
    Pipeline,
    assert_rows_accounted,
    lead_rows,
    pipeline_env,
    put_dataset,
    read_report,
)
from tests.redis_restart import restart, start_again, stop_redis
from tests.sandbox_helpers import admin
from tests.services import Service, start_redis, wait_for

HEADER = "email,firstName,lastName,leadScore\n"
ROWS = 4000
RESTARTS_AT_CHUNKS_DONE = (3, 12, 24)  # three restarts, spread over the load
OUTAGE_S = 8.0  # a deliberate outage: the test holds Redis down this long

# Short leases and a reconciler every second: a message that Redis could not take
# back during an outage waits for the visibility timeout, the ledger does not.
ENV = {
    **FAST_RECOVERY,
    "MARKETO_RATE_LIMIT_WINDOW_S": "5",
}


def _watch(what: str, condition: Callable[[], bool], timeout: float = 90) -> None:
    wait_for(condition, timeout=timeout, interval=0.05, what=what)


def _exited(pipeline: Pipeline) -> list[str]:
    return [f"pid {p.pid} exited {p.returncode}" for p in pipeline.workers if p.poll() is not None]


def _settled(pipeline: Pipeline) -> bool:
    """Every worker answers a ping again after reconnecting (or one has exited)."""
    if _exited(pipeline):
        return True
    try:
        answers = pipeline.celery().control.ping(timeout=0.5) or []
    except RedisError:  # this client's own connection from before the restart
        return False
    return len(answers) >= len(pipeline.workers)


def test_workers_survive_repeated_redis_restarts_and_the_load_finishes_exactly(
    sandbox: Service, s3_service: Service, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    redis = start_redis(tmp_path, appendonly=True)
    pipeline = Pipeline(
        pipeline_env(redis.url, s3_service, sandbox, bucket, **ENV), redis.url, bucket, tmp_path
    )
    # Jobs take a while in Marketo, so every restart finds workers holding messages.
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": 0.3, "rate_limit_window": 5})
    try:
        body = HEADER + "".join(lead_rows(ROWS))
        source = put_dataset(s3_client, bucket, "in/leads.csv", body)
        pipeline.start_beat()
        pipeline.start_worker("a")
        pipeline.start_worker("b")
        pipeline.wait_ready()
        load_id = pipeline.start_load(source=source, object="leads", lookupField="email")

        for done in RESTARTS_AT_CHUNKS_DONE:

            def reached(done: int = done) -> bool:
                return int(pipeline.load(load_id).get("chunks_done") or 0) >= done

            _watch(f"{done} chunks done", reached)
            restart(redis)
            _watch("every worker to answer again, or one to exit", lambda: _settled(pipeline))
            assert not _exited(pipeline), pipeline.logs()[-4000:]

        load = pipeline.wait_until_finished(load_id, timeout=120)
        assert not _exited(pipeline), pipeline.logs()[-4000:]
        # Beat rode out every restart: the reconciler sweep it sends never stopped.
        assert [beat.poll() for beat in pipeline.beats] == [None], pipeline.logs()[-4000:]
        assert "Unrecoverable error" not in pipeline.logs()
        assert load["state"] == "succeeded", pipeline.logs()[-3000:]
        report = read_report(s3_client, load["report_uri"])
        assert_rows_accounted(report)
        totals = report["totals"]
        assert totals["rows_read"] == ROWS
        assert totals["rows_processed"] == ROWS
        assert totals["rows_failed"] == 0
        assert totals["rows_rejected"] == 0
        assert all(c["state"] == "done" for c in report["chunks"])
        stats = admin(sandbox, "GET", "/_sandbox/stats")
        assert stats["records"]["leads"] == ROWS
        assert stats["max_outstanding_jobs"] <= 10
        assert stats["too_many_imports_sent"] == 0
    finally:
        pipeline.stop()
        redis.stop()


def test_a_submit_caught_by_a_redis_outage_retries_itself_without_the_reconciler(
    sandbox: Service, s3_service: Service, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    redis = start_redis(tmp_path, appendonly=True)
    # No beat at all, and a sweep interval of an hour: only the task's own retry can
    # finish the chunk whose submit Redis dropped.
    env = {**ENV, "RECONCILE_INTERVAL_S": "3600"}
    pipeline = Pipeline(
        pipeline_env(redis.url, s3_service, sandbox, bucket, **env), redis.url, bucket, tmp_path
    )
    admin(sandbox, "PATCH", "/_sandbox/config", {"faults": {"slow_seconds": 2.0}})
    rows = 300
    try:
        source = put_dataset(s3_client, bucket, "in/leads.csv", HEADER + "".join(lead_rows(rows)))
        pipeline.start_worker("a")
        pipeline.wait_ready()
        # The first import POST is slow: Redis goes away while it is in flight, so
        # the submit finds Redis gone when it records the batch id.
        admin(sandbox, "POST", "/_sandbox/faults",
              {"fault": "slow", "count": 1, "path_prefix": "/bulk/v1/leads.json"})  # fmt: skip
        load_id = pipeline.start_load(source=source, object="leads", lookupField="email")
        _watch("the slow POST", lambda: not admin(sandbox, "GET", "/_sandbox/faults")["queued"])
        argv = [str(arg) for arg in redis.process.args]  # type: ignore[union-attr]
        stop_redis(redis)
        # Longer than redis-py's own reconnect attempts and the submit's lock.
        time.sleep(OUTAGE_S)
        start_again(redis, argv)

        load = pipeline.wait_until_finished(load_id, timeout=90)
        assert not _exited(pipeline), pipeline.logs()[-4000:]
        logs = pipeline.logs()
        assert "mkto_bulk.submit_chunk: transient error, retrying" in logs, logs[-4000:]
        assert "Redis unavailable" in logs
        assert load["state"] == "succeeded", logs[-3000:]
        report = read_report(s3_client, load["report_uri"])
        assert_rows_accounted(report)
        assert report["totals"]["rows_read"] == rows
        assert report["totals"]["rows_processed"] == rows
        stats = admin(sandbox, "GET", "/_sandbox/stats")
        assert stats["records"]["leads"] == rows
    finally:
        pipeline.stop()
        redis.stop()
