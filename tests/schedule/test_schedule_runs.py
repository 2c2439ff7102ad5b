"""Scheduled runs driven tick by tick (real Redis and S3 endpoint, a chosen clock)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.pipeline_helpers import RecordingDispatcher, put_dataset
from workers.cli import cli
from workers.pipeline.runtime import Runtime
from workers.schedule.config import ScheduledLoad, parse_entry
from workers.schedule.runs import last_run, tick
from workers.settings import Settings
from workers.storage import Storage

FIRE = datetime(2024, 6, 2, 7, 0, tzinfo=UTC)  # 02:00 CDT, when "0 2 * * *" Chicago fires


@pytest.fixture
def rt(redis_url: str, s3_client: Any) -> Runtime:
    runtime = Runtime(Settings(redis_url=redis_url))
    runtime.storage = Storage(client=s3_client)
    return runtime


def nightly(bucket: str, **overrides: Any) -> ScheduledLoad:
    table = {
        "name": "leads-nightly",
        "cron": "0 2 * * *",
        "timezone": "America/Chicago",
        "source": f"s3://{bucket}/leads/{{ds}}/",
        "source_wait_s": 3,
        "object": "leads",
        "lookupField": "email",
        **overrides,
    }
    return parse_entry(table, default_wait_s=3)


def at(seconds: float, base: datetime = FIRE) -> datetime:
    return base + timedelta(seconds=seconds)


def started_tonight(
    rt: Runtime, bucket: str, s3_client: Any
) -> tuple[ScheduledLoad, RecordingDispatcher]:
    """Tonight's run (2024-06-02), its source there at the first tick: its load started."""
    entry, dispatch = nightly(bucket, source_wait_s=600), RecordingDispatcher()
    put_dataset(s3_client, bucket, "leads/2024-06-02/part-0.csv", "email\na@example.com\n")
    assert tick(rt, dispatch, entry, at(1)) == "started"
    return entry, dispatch


def test_a_missing_source_is_checked_on_every_tick_then_fails_with_a_clear_message(
    rt: Runtime, bucket: str
) -> None:
    entry, dispatch = nightly(bucket), RecordingDispatcher()

    assert tick(rt, dispatch, entry, at(1)) == "waiting"
    assert last_run(rt.redis, "leads-nightly")["state"] == "waiting_for_source"
    assert tick(rt, dispatch, entry, at(2.5)) == "waiting"
    assert tick(rt, dispatch, entry, at(3.5)) == "failed"
    assert tick(rt, dispatch, entry, at(10)) == "failed"

    record = last_run(rt.redis, "leads-nightly")
    assert record["ds"] == "2024-06-02"
    assert record["error"] == (
        f"source s3://{bucket}/leads/2024-06-02/ was not there within 3s "
        "after 2024-06-02 02:00 America/Chicago"
    )
    assert dispatch.calls == []  # no load was started


def test_a_source_that_appears_within_the_window_starts_one_load_however_often_it_ticks(
    rt: Runtime, bucket: str, s3_client: Any
) -> None:
    entry, dispatch = nightly(bucket, source_wait_s=600), RecordingDispatcher()
    assert tick(rt, dispatch, entry, at(1)) == "waiting"
    put_dataset(s3_client, bucket, "leads/2024-06-02/part-0.csv", "email\na@example.com\n")

    # Two beats, a restarted beat, a redelivered tick: all resolve to the same run.
    outcomes = [tick(rt, dispatch, entry, at(s)) for s in (2, 2, 30, 500)]

    assert outcomes == ["started"] * 4
    record = last_run(rt.redis, "leads-nightly")
    assert record["state"] == "started" and record["ds"] == "2024-06-02"
    assert dispatch.calls == [("split", (record["load_id"],))]
    assert rt.ledger.recent_loads() == [record["load_id"]]
    params = rt.ledger.load(record["load_id"]).params
    assert params["idempotencyKey"] == "schedule:leads-nightly:2024-06-02"
    assert params["source"] == f"s3://{bucket}/leads/2024-06-02/"


def test_a_duplicate_whose_record_was_lost_still_finds_the_same_load(
    rt: Runtime, bucket: str, s3_client: Any
) -> None:
    entry, dispatch = started_tonight(rt, bucket, s3_client)
    first = last_run(rt.redis, "leads-nightly")["load_id"]
    rt.redis.delete("mkto:schedule:leads-nightly")  # e.g. a crash between the two writes

    assert tick(rt, dispatch, entry, at(5)) == "started"

    assert last_run(rt.redis, "leads-nightly")["load_id"] == first
    assert rt.ledger.recent_loads() == [first]


def test_a_ready_marker_is_awaited_before_the_source_counts_as_there(
    rt: Runtime, bucket: str, s3_client: Any
) -> None:
    entry = nightly(bucket, source_wait_s=600, ready_marker="_SUCCESS")
    dispatch = RecordingDispatcher()
    put_dataset(s3_client, bucket, "leads/2024-06-02/part-0.csv", "email\na@example.com\n")
    assert tick(rt, dispatch, entry, at(1)) == "waiting"
    put_dataset(s3_client, bucket, "leads/2024-06-02/_SUCCESS", "")
    assert tick(rt, dispatch, entry, at(2)) == "started"


def test_a_run_no_tick_reached_within_its_window_is_reported_not_loaded_late(
    rt: Runtime, bucket: str, s3_client: Any
) -> None:
    entry, dispatch = nightly(bucket, source_wait_s=3600), RecordingDispatcher()
    put_dataset(s3_client, bucket, "leads/2024-06-02/part-0.csv", "email\na@example.com\n")
    put_dataset(s3_client, bucket, "leads/2024-06-03/part-0.csv", "email\nb@example.com\n")
    assert tick(rt, dispatch, entry, at(1)) == "started"

    # Beat was down from before the next night's run until well after its window.
    assert tick(rt, dispatch, entry, at(2 * 3600, FIRE + timedelta(days=1))) == "missed"

    record = last_run(rt.redis, "leads-nightly")
    assert record["ds"] == "2024-06-03" and record["state"] == "failed"
    assert record["error"] == (
        "not run: no beat tick was handled within 1h after 2024-06-03 02:00 America/Chicago"
    )
    assert len(rt.ledger.recent_loads()) == 1


def test_a_schedule_first_seen_after_its_window_starts_with_its_next_run(
    rt: Runtime, bucket: str
) -> None:
    assert tick(rt, RecordingDispatcher(), nightly(bucket), at(3600)) == "idle"
    assert last_run(rt.redis, "leads-nightly") == {}


def test_schedule_list_shows_the_next_run_in_each_entrys_zone_and_the_last_result(
    rt: Runtime, bucket: str, s3_client: Any, redis_url: str, tmp_path: Path
) -> None:
    put_dataset(s3_client, bucket, "leads/2024-06-02/part-0.csv", "email\na@example.com\n")
    loaded, missing = nightly(bucket, source_wait_s=600), nightly(bucket, name="orders")
    missing = parse_entry(
        {**missing.as_table(), "source": f"s3://{bucket}/orders/{{ds}}.csv", "timezone": "UTC",
         "cron": "30 6 * * mon-fri"}, default_wait_s=3,
    )  # fmt: skip
    tick(rt, RecordingDispatcher(), loaded, at(1))
    orders_fire = missing.cron.previous(FIRE)
    assert orders_fire is not None
    tick(rt, RecordingDispatcher(), missing, orders_fire + timedelta(seconds=1))
    tick(rt, RecordingDispatcher(), missing, orders_fire + timedelta(seconds=5))
    schedule_file = tmp_path / "schedule.toml"
    schedule_file.write_text(
        "".join(
            "[[load]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in e.as_table().items())
            for e in (loaded, missing)
        )
    )
    env = {"REDIS_URL": redis_url, "SCHEDULE_FILE": str(schedule_file)}

    text = CliRunner().invoke(cli, ["schedule", "list"], env=env)
    as_json = CliRunner().invoke(cli, ["schedule", "list", "--json"], env=env)

    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].split() == ["NAME", "CRON", "TIMEZONE", "NEXT", "RUN", "LAST", "DS", "LAST",
                                "RESULT"]  # fmt: skip
    load_id = last_run(rt.redis, "leads-nightly")["load_id"]
    assert lines[1].startswith("leads-nightly")
    assert re.search(r"America/Chicago  \d{4}-\d\d-\d\d 02:00 C[SD]T  2024-06-02  ", lines[1])
    assert lines[1].endswith(f"2024-06-02  load {load_id}: pending")
    assert lines[2].startswith("orders") and " 06:30 UTC " in lines[2]
    assert f"failed: source s3://{bucket}/orders/2024-05-31.csv was not there within 3s" in lines[2]
    items = json.loads(as_json.output)
    upcoming = datetime.fromisoformat(items[0]["next_run"])
    assert (upcoming.hour, upcoming.minute) == (2, 0)  # in Chicago time, offset included
    assert upcoming.utcoffset() in (timedelta(hours=-5), timedelta(hours=-6))
    assert items[0]["last_run"]["load_id"] == load_id
    assert items[0]["last_run"]["load_state"] == "pending"
    assert items[1]["last_run"]["state"] == "failed"


def test_schedule_list_refuses_a_bad_file_with_the_message_beat_prints(tmp_path: Path) -> None:
    schedule_file = tmp_path / "schedule.toml"
    schedule_file.write_text('[[load]]\nname = "leads-nightly"\ncron = "61 2 * * *"\n')
    result = CliRunner().invoke(
        cli, ["schedule", "list"], env={"SCHEDULE_FILE": str(schedule_file)}
    )
    assert result.exit_code == 2
    assert result.output.strip() == (
        f'mkto-bulk: schedule file {schedule_file}: [[load]] "leads-nightly": cron: bad expression '
        '"61 2 * * *" (minute must be 0-59: Invalid end range: 61 > 59)'
    )


def test_a_tick_from_a_lagging_clock_does_not_replace_a_newer_run(
    rt: Runtime, bucket: str, s3_client: Any
) -> None:
    entry, dispatch = started_tonight(rt, bucket, s3_client)

    # A worker whose clock is two seconds behind still sees yesterday's run as the latest.
    assert tick(rt, dispatch, entry, at(-2)) == "superseded"

    record = last_run(rt.redis, "leads-nightly")
    assert record["ds"] == "2024-06-02" and record["state"] == "started"
