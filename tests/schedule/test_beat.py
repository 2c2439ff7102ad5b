"""Beat as it runs in production: real ``celery beat`` and worker processes on the test services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from tests.pipeline_helpers import ROOT, Pipeline, lead_rows, put_dataset
from tests.services import wait_for

pytestmark = pytest.mark.serial  # a stand-by beat takes over within a minute

FAST_BEAT = {"SCHEDULE_TICK_S": "0.5", "BEAT_LOCK_TIMEOUT_S": "3", "RECONCILE_INTERVAL_S": "1"}
SENDING = "Sending due task load:"


def just_fired() -> datetime:
    """The start of the previous minute: a daily cron at that time fired moments ago."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)


def schedule_file(path: Path, **fields: Any) -> Path:
    lines = ["[[load]]"] + [f"{k} = {v!r}".replace("'", '"') for k, v in fields.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def nightly(pipeline: Pipeline, fire: datetime, source_wait_s: float) -> Path:
    return schedule_file(
        pipeline.logdir / "schedule.toml",
        name="leads-nightly",
        cron=f"{fire.minute} {fire.hour} * * *",
        timezone="UTC",
        source=f"s3://{pipeline.bucket}/leads/{{ds}}/",
        source_wait_s=source_wait_s,
        object="leads",
        lookupField="email",
    )


def run_record(pipeline: Pipeline, name: str = "leads-nightly") -> dict[str, str]:
    raw = cast(dict[bytes, bytes], pipeline.redis.hgetall(f"mkto:schedule:{name}"))
    return {k.decode(): v.decode() for k, v in raw.items()}


def beat_log(pipeline: Pipeline, name: str) -> str:
    path = pipeline.logdir / f"worker-{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def test_a_bad_schedule_file_stops_beat_with_a_message_naming_the_entry(tmp_path: Path) -> None:
    bad = schedule_file(tmp_path / "schedule.toml", name="leads-nightly", cron="61 2 * * *",
                        source="s3://etl-out/{ds}/", object="leads")  # fmt: skip
    env = dict(os.environ, MARKETO_CLIENT_SECRET="s", SCHEDULE_FILE=str(bad))
    argv = [sys.executable, "-m", "celery", "-A", "workers", "beat", "-l", "info"]
    beat = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    mkto_bulk = str(Path(sys.executable).with_name("mkto-bulk"))
    listing = subprocess.run([mkto_bulk, "schedule", "list"], env=env,
                             cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip

    message = (
        f'mkto-bulk: schedule file {bad}: [[load]] "leads-nightly": cron: bad expression '
        '"61 2 * * *" (minute must be 0-59: Invalid end range: 61 > 59)'
    )
    assert beat.returncode == 2
    assert beat.stderr.strip().splitlines()[-1] == message
    assert listing.returncode == 2
    assert listing.stderr.strip() == message


def test_a_scheduled_load_waits_for_its_source_then_loads_it_once(
    pipeline: Pipeline, s3_client: Any
) -> None:
    fire = just_fired()
    schedule = nightly(pipeline, fire, source_wait_s=600)
    pipeline.start_worker("w1")
    pipeline.start_beat(SCHEDULE_FILE=str(schedule), **FAST_BEAT)
    wait_for(lambda: run_record(pipeline).get("state") == "waiting_for_source", timeout=60,
             what="the run to wait for its source")  # fmt: skip

    ds = fire.date().isoformat()
    rows = "email,firstName,lastName,leadScore\n" + "".join(lead_rows(200))
    put_dataset(s3_client, pipeline.bucket, f"leads/{ds}/part-0.csv", rows)
    wait_for(lambda: run_record(pipeline).get("state") == "started", timeout=60,
             what="the run to start its load")  # fmt: skip
    record = run_record(pipeline)
    load = pipeline.wait_until_finished(record["load_id"], timeout=120)

    assert load["state"] == "succeeded", pipeline.logs()[-3000:]
    assert load["rows_processed"] == "200"
    assert record["ds"] == ds
    # Later ticks of the same night find the run started and start nothing more.
    handled = pipeline.logs().count("mkto_bulk.run_scheduled[")
    wait_for(lambda: pipeline.logs().count("mkto_bulk.run_scheduled[") >= handled + 6,
             timeout=60, what="more ticks to be handled")  # fmt: skip
    assert pipeline.redis.zcard("mkto:loads") == 1
    assert pipeline.redis.get(f"mkto:idempotency:schedule:leads-nightly:{ds}") == (
        record["load_id"].encode()
    )


def test_a_source_that_never_comes_fails_the_run_after_its_window(pipeline: Pipeline) -> None:
    pipeline.start_worker("w1")
    pipeline.wait_ready()
    fire = just_fired()
    # A window that ends a few seconds from now: time for beat to start and tick.
    window = (datetime.now(UTC) - fire).total_seconds() + 8
    schedule = nightly(pipeline, fire, source_wait_s=round(window))
    pipeline.start_beat(SCHEDULE_FILE=str(schedule), **FAST_BEAT)

    wait_for(lambda: run_record(pipeline).get("state") == "waiting_for_source", timeout=60,
             what="the run to wait for its source")  # fmt: skip
    wait_for(lambda: run_record(pipeline).get("state") == "failed", timeout=60,
             what="the run to fail")  # fmt: skip

    record = run_record(pipeline)
    ds = fire.date().isoformat()
    assert record["error"].startswith(
        f"source s3://{pipeline.bucket}/leads/{ds}/ was not there within "
    )
    assert record["error"].endswith(f" after {fire:%Y-%m-%d %H:%M} UTC")
    assert pipeline.redis.zcard("mkto:loads") == 0


def test_a_second_beat_stands_by_and_takes_over_within_a_minute(pipeline: Pipeline) -> None:
    schedule = nightly(pipeline, just_fired(), source_wait_s=600)
    env = {"SCHEDULE_FILE": str(schedule), **FAST_BEAT}
    first = pipeline.start_beat("beat-a", **env)
    wait_for(lambda: SENDING in beat_log(pipeline, "beat-a"), timeout=60,
             what="the first beat to send")  # fmt: skip
    pipeline.start_beat("beat-b", **env)
    wait_for(lambda: "beat: Starting" in beat_log(pipeline, "beat-b"), timeout=60,
             what="the second beat to start")  # fmt: skip
    sent = beat_log(pipeline, "beat-a").count(SENDING)
    # Long enough for the standby to have taken the lock had it been free (3 s).
    wait_for(lambda: beat_log(pipeline, "beat-a").count(SENDING) >= sent + 12, timeout=60,
             what="the first beat to keep sending")  # fmt: skip

    assert beat_log(pipeline, "beat-b").count(SENDING) == 0

    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    wait_for(lambda: beat_log(pipeline, "beat-b").count(SENDING) >= 3, timeout=60,
             what="the standby beat to take over and keep sending")  # fmt: skip
    assert "beat: Acquired lock" in beat_log(pipeline, "beat-b")


def test_a_worker_ignores_the_schedule_file_that_only_beat_reads(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # A shared configuration names the file; only beat's container mounts it.
    pipeline.env["SCHEDULE_FILE"] = str(tmp_path / "not-mounted-here.toml")
    pipeline.start_worker("w1")
    pipeline.wait_ready()


def test_beat_rides_out_redis_being_down_for_a_while_and_keeps_sending(
    tmp_path: Path, pipeline_with: Any
) -> None:
    """Redis gone for longer than a tick (a restart, a failover): beat skips the ticks it
    cannot make and goes on, so the reconciler sweep never stops for good."""
    from tests.pipeline_helpers import Pipeline as Made
    from tests.redis_restart import start_again, stop_redis
    from tests.services import start_redis

    redis = start_redis(tmp_path, appendonly=True)
    made: Made = pipeline_with(REDIS_URL=redis.url)
    try:
        beat = made.start_beat(**FAST_BEAT)
        reconciles = "Sending due task mkto-bulk-reconcile"
        wait_for(lambda: reconciles in beat_log(made, "beat"), timeout=60,
                 what="beat to send a sweep")  # fmt: skip
        argv = [str(arg) for arg in redis.process.args]  # type: ignore[union-attr]
        stop_redis(redis)
        wait_for(lambda: "beat: Redis unreachable" in beat_log(made, "beat"), timeout=30,
                 what="beat to meet Redis gone")  # fmt: skip
        assert beat.poll() is None
        sent = beat_log(made, "beat").count(reconciles)
        start_again(redis, argv)
        wait_for(lambda: beat_log(made, "beat").count(reconciles) >= sent + 3, timeout=60,
                 what="beat to send sweeps again")  # fmt: skip
        assert beat.poll() is None
    finally:
        made.stop()
        redis.stop()
