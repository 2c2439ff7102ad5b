"""A scheduled run is named, never described: only entries beat read from its file can run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from tests.pipeline_helpers import Pipeline, RecordingDispatcher, put_dataset
from tests.schedule.test_beat import FAST_BEAT, just_fired, nightly
from tests.schedule.test_schedule_runs import at
from tests.schedule.test_schedule_runs import nightly as nightly_entry
from tests.services import wait_for
from workers.pipeline.runtime import Runtime
from workers.schedule.config import load_schedule_file
from workers.schedule.runs import ENTRIES_KEY, publish_entries, run_by_name
from workers.settings import Settings
from workers.storage import Storage


@pytest.fixture
def rt(redis_url: str, s3_client: Any) -> Runtime:
    runtime = Runtime(Settings(redis_url=redis_url))
    runtime.storage = Storage(client=s3_client)
    return runtime


def schedule_keys(pipeline: Pipeline) -> list[bytes]:
    keys = cast(list[bytes], pipeline.redis.keys("mkto:schedule*"))
    return [k for k in keys if k != ENTRIES_KEY.encode()]


def test_a_hand_sent_run_scheduled_with_a_made_up_entry_or_name_does_nothing(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.start_worker("w1", concurrency=1)
    made_up = {"name": "leads-nightly", "cron": "* * * * *", "timezone": "UTC",
               "source": "/etc/passwd", "source_wait_s": 600, "object": "leads"}  # fmt: skip
    etl = pipeline.celery()
    etl.send_task("mkto_bulk.run_scheduled", kwargs={"entry": made_up})
    etl.send_task("mkto_bulk.run_scheduled", kwargs={"name": "leads-nightly"})
    etl.send_task("mkto_bulk.run_scheduled", args=[{"name": "x"}])

    def refusals() -> int:
        return pipeline.logs().count("run_scheduled refused: ")

    wait_for(lambda: refusals() >= 3, timeout=60, what="the worker to refuse the three ticks")
    logs = pipeline.logs()
    assert 'run_scheduled refused: it takes only a scheduled load\'s name (got "entry")' in logs
    assert (
        'run_scheduled refused: no scheduled load "leads-nightly" in the schedule beat read '
        f"({ENTRIES_KEY})"
    ) in logs
    assert "run_scheduled refused: it takes only a scheduled load's name (got dict)" in logs
    assert schedule_keys(pipeline) == [] and pipeline.redis.exists(ENTRIES_KEY) == 0
    assert pipeline.redis.zcard("mkto:loads") == 0
    assert "root:" not in logs


def test_beat_publishes_the_entries_it_validated_and_ticks_name_them(
    pipeline: Pipeline, s3_client: Any
) -> None:
    schedule = nightly(pipeline, just_fired(), source_wait_s=600)
    pipeline.start_worker("w1", concurrency=1)
    pipeline.start_beat(SCHEDULE_FILE=str(schedule), **FAST_BEAT)

    wait_for(lambda: pipeline.redis.hexists(ENTRIES_KEY, "leads-nightly"), timeout=60,
             what="beat to publish its schedule")  # fmt: skip
    published = json.loads(pipeline.redis.hget(ENTRIES_KEY, "leads-nightly") or b"{}")
    assert published == load_schedule_file(schedule, 3 * 3600)[0].as_table()
    wait_for(lambda: pipeline.redis.exists("mkto:schedule:leads-nightly") == 1, timeout=60,
             what="a tick to record the night's run")  # fmt: skip
    assert "mkto_bulk.run_scheduled" in pipeline.logs()
    assert "run_scheduled refused" not in pipeline.logs()


def test_run_by_name_runs_only_a_published_entry(rt: Runtime, bucket: str, s3_client: Any) -> None:
    entry, dispatch = nightly_entry(bucket, source_wait_s=600), RecordingDispatcher()
    put_dataset(s3_client, bucket, "leads/2024-06-02/part-0.csv", "email\na@example.com\n")

    assert run_by_name(rt, dispatch, "leads-nightly", at(1)) == "unknown"
    assert run_by_name(rt, dispatch, "leads-\ud800", at(1)) == "refused"
    assert rt.redis.keys("mkto:schedule:*") == [] and dispatch.calls == []

    publish_entries(rt.redis, [entry])
    assert run_by_name(rt, dispatch, "leads-nightly", at(1)) == "started"
    assert run_by_name(rt, dispatch, "orders", at(1)) == "unknown"

    publish_entries(rt.redis, [])  # the entry left the file: beat restarted without it
    assert run_by_name(rt, dispatch, "leads-nightly", at(2)) == "unknown"
    assert len(rt.ledger.recent_loads()) == 1
