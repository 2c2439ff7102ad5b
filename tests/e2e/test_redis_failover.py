"""Redis fails over under a running load: Sentinel promotes a replica, nothing is lost.

A primary, two replicas and three sentinels (quorum 2), all real ``redis-server``
processes on loopback, with passwords on the primary and on the sentinels.
The primary is SIGKILLed mid-load; the workers, beat and the ETL's client find
the promoted replica through Sentinel by themselves.

Two replicas rather than one: a submit waits until a replica holds its permit
(Redis WAIT), and with one replica the promoted primary has none until the
killed one comes back as a replica (Sentinel converts it only after watching it
for 8 s or more), so the load would stand still for 15 s of the test's time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import ResponseError

from infra.local_sentinel import start_sentinel_group, wait_promoted
from tests.pipeline_helpers import (
    FAST_RECOVERY,
    Pipeline,
    assert_rows_accounted,
    lead_rows,
    pipeline_env,
    put_dataset,
    read_report,
)
from tests.sandbox_helpers import admin
from tests.services import Service, wait_for

HEADER = "email,firstName,lastName,leadScore\n"
ROWS = 2000
LIMIT = 4  # MAX_OUTSTANDING_JOBS: low, so the queue is full when the primary dies
KILL_AT_CHUNKS_DONE = 6
PRIMARY_PASSWORD = "primary-pw-DO-NOT-LEAK-51c2"
SENTINEL_PASSWORD = "sentinel-pw-DO-NOT-LEAK-9e0d"
REFUSAL_PROBE = "test:refusal-probe"  # a key of the test's own, never the workers'

ENV = {
    **FAST_RECOVERY,
    "MAX_OUTSTANDING_JOBS": str(LIMIT),
    "MARKETO_RATE_LIMIT_WINDOW_S": "5",
}


def _jobs_created(sandbox: Service) -> int:
    return sum(admin(sandbox, "GET", "/_sandbox/stats")["jobs"].values())


def test_a_load_rides_out_a_sentinel_failover_with_every_row_and_the_limit_kept(
    sandbox: Service, s3_service: Service, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    group = start_sentinel_group(
        tmp_path, replicas=2, password=PRIMARY_PASSWORD, sentinel_password=SENTINEL_PASSWORD,
        min_replicas_to_write=1,
    )  # fmt: skip
    env = pipeline_env(group.url, s3_service, sandbox, bucket, **ENV, **group.env())
    pipeline = Pipeline(env, group.url, bucket, tmp_path)
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": 0.3, "rate_limit_window": 5})
    try:
        source = put_dataset(s3_client, bucket, "in/leads.csv", HEADER + "".join(lead_rows(ROWS)))
        pipeline.start_beat()
        pipeline.start_worker("a")
        pipeline.start_worker("b")
        pipeline.wait_ready()
        load_id = pipeline.start_load(source=source, object="leads", lookupField="email")
        wait_for(
            lambda: int(pipeline.load(load_id).get("chunks_done") or 0) >= KILL_AT_CHUNKS_DONE,
            timeout=90, interval=0.05, what=f"{KILL_AT_CHUNKS_DONE} chunks done",
        )  # fmt: skip

        old = group.primary()
        killed_at = time.monotonic()
        group.kill(old)
        promoted_s = wait_promoted(group, old.port)
        # The load moves again: a new import job reaches Marketo through the new primary
        # (a POST already past its WAIT when the primary died does not count).
        jobs_then = _jobs_created(sandbox)
        wait_for(lambda: _jobs_created(sandbox) > jobs_then, timeout=60, interval=0.05,
                 what="an import job after the failover")  # fmt: skip
        resumed_s = time.monotonic() - killed_at

        load = pipeline.wait_until_finished(load_id, timeout=180)
        finished_s = time.monotonic() - killed_at
        print(f"\nfailover: promoted {promoted_s:.1f} s after the kill, first job after the "
              f"promotion {resumed_s:.1f} s, load finished {finished_s:.1f} s")  # fmt: skip
        logs = pipeline.logs()
        assert [p.poll() for p in [*pipeline.workers, *pipeline.beats]] == [None] * 3, logs[-4000:]
        assert "Unrecoverable error" not in logs
        assert load["state"] == "succeeded", logs[-3000:]
        report = read_report(s3_client, load["report_uri"])
        assert_rows_accounted(report)
        assert report["totals"]["rows_read"] == ROWS
        assert report["totals"]["rows_processed"] == ROWS
        assert report["totals"]["rows_failed"] == 0
        stats = admin(sandbox, "GET", "/_sandbox/stats")
        assert stats["records"]["leads"] == ROWS
        assert stats["max_outstanding_jobs"] <= LIMIT
        assert stats["too_many_imports_sent"] == 0
        # The passwords reached the workers by environment only.
        assert PRIMARY_PASSWORD not in logs and SENTINEL_PASSWORD not in logs
        assert resumed_s < 30
    finally:
        pipeline.stop()
        group.stop()


def test_workers_wait_out_a_primary_that_refuses_writes_for_want_of_replicas(
    sandbox: Service, s3_service: Service, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    """min-replicas-to-write 1 and the only replica gone: every write, a worker's BRPOP
    included, is refused (NOREPLICAS) until it is back; the workers stay up and the load
    finishes."""
    group = start_sentinel_group(tmp_path, replicas=1, sentinels=0, min_replicas_to_write=1)
    primary, replica = group.servers
    group.client(primary).config_set("min-replicas-max-lag", 1)  # refusals start sooner
    rows = 400
    env = pipeline_env(primary.url, s3_service, sandbox, bucket, **ENV)
    pipeline = Pipeline(env, primary.url, bucket, tmp_path)
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": 0.3})
    try:
        source = put_dataset(s3_client, bucket, "in/leads.csv", HEADER + "".join(lead_rows(rows)))
        pipeline.start_beat()
        pipeline.start_worker("a")
        pipeline.wait_ready()
        load_id = pipeline.start_load(source=source, object="leads", lookupField="email")
        wait_for(lambda: int(pipeline.load(load_id).get("chunks_done") or 0) >= 1,
                 timeout=60, interval=0.05, what="a chunk done")  # fmt: skip
        group.kill(replica)
        wait_for(lambda: _refuses_writes(group.client(primary)), timeout=30, interval=0.1,
                 what="the primary to refuse writes")  # fmt: skip
        time.sleep(3)  # a deliberate outage: the workers meet refusals for this long
        assert [p.poll() for p in pipeline.workers] == [None], pipeline.logs()[-3000:]
        group.start_again(replica)

        load = pipeline.wait_until_finished(load_id, timeout=120)
        logs = pipeline.logs()
        assert "Not enough good replicas to write" in logs  # the refusals were met
        assert [p.poll() for p in [*pipeline.workers, *pipeline.beats]] == [None] * 2, logs[-3000:]
        assert "Unrecoverable error" not in logs
        assert load["state"] == "succeeded", logs[-3000:]
        report = read_report(s3_client, load["report_uri"])
        assert_rows_accounted(report)
        assert report["totals"]["rows_processed"] == rows
    finally:
        pipeline.stop()
        group.stop()


def _refuses_writes(client: Redis) -> bool:
    try:
        client.set(REFUSAL_PROBE, "1")
    except ResponseError as error:
        return "NOREPLICAS" in str(error)
    return False
