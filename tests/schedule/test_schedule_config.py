"""The schedule file and cron logic: fire times in the entry's zone, logical dates, validation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from beat_schedule import beat_schedule
from workers.schedule.config import (
    ScheduledLoad,
    ScheduleFileError,
    load_schedule_file,
    parse_entry,
)
from workers.schedule.cron import Cron

ROOT = Path(__file__).resolve().parents[2]
CHICAGO_NIGHTLY: dict[str, Any] = {
    "name": "leads-nightly",
    "cron": "0 2 * * *",
    "timezone": "America/Chicago",
    "source": "s3://etl-out/leads/{ds}/",
    "object": "leads",
    "lookupField": "email",
}


def _iso(moment: datetime | None) -> str:
    assert moment is not None, "the cron has no earlier fire time"
    return moment.isoformat()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def entry(**overrides: Any) -> ScheduledLoad:
    return parse_entry({**CHICAGO_NIGHTLY, **overrides}, default_wait_s=3 * 3600)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schedule.toml"
    path.write_text(text)
    return path


def fires_between(cron: Cron, start: str, end: str) -> list[datetime]:
    fires, now = [], utc(start)
    while (upcoming := cron.next_after(now)) is not None and upcoming <= utc(end):
        fires.append(upcoming)
        now = upcoming
    return fires


def test_a_2_30_run_on_a_spring_forward_day_still_runs_once() -> None:
    cron = Cron.parse("30 2 * * *", "America/Chicago")
    # 2024-03-10: clocks jump from 02:00 CST to 03:00 CDT; 02:30 does not exist.
    fires = fires_between(cron, "2024-03-09T12:00", "2024-03-11T12:00")
    assert [f.isoformat() for f in fires] == [
        "2024-03-10T03:30:00-05:00",  # the same instant as 02:30 CST
        "2024-03-11T02:30:00-05:00",
    ]


def test_a_1_30_run_on_a_fall_back_day_runs_once() -> None:
    cron = Cron.parse("30 1 * * *", "America/Chicago")
    # 2024-11-03: 01:00-02:00 happens twice (CDT, then CST); the run fires at the first.
    fires = fires_between(cron, "2024-11-02T12:00", "2024-11-04T12:00")
    assert [f.isoformat() for f in fires] == [
        "2024-11-03T01:30:00-05:00",
        "2024-11-04T01:30:00-06:00",
    ]


def test_the_latest_fire_time_is_found_in_the_entrys_own_zone() -> None:
    cron = Cron.parse("0 2 * * *", "America/Chicago")
    # 07:59 UTC on June 2 is 02:59 CDT: today's 02:00 run has fired.
    assert _iso(cron.previous(utc("2024-06-02T07:59"))) == "2024-06-02T02:00:00-05:00"
    # 06:59 UTC is 01:59 CDT: the latest run is yesterday's.
    assert _iso(cron.previous(utc("2024-06-02T06:59"))) == "2024-06-01T02:00:00-05:00"


def test_day_of_month_and_day_of_week_match_either_as_in_cron() -> None:
    cron = Cron.parse("0 6 1 * mon", "UTC")
    fires = fires_between(cron, "2024-06-30T12:00", "2024-07-09T12:00")
    # July 1st (a Monday), then Monday July 8th.
    assert [f.date().isoformat() for f in fires] == ["2024-07-01", "2024-07-08"]


def test_ds_is_the_local_date_of_the_run_shifted_by_date_offset_days() -> None:
    nightly = entry(date_offset_days=-1)
    run = nightly.run_for(nightly.cron.previous(utc("2024-06-02T08:00")))  # type: ignore[arg-type]
    assert run.ds == "2024-06-01"
    assert run.source == "s3://etl-out/leads/2024-06-01/"
    assert run.payload["idempotencyKey"] == "schedule:leads-nightly:2024-06-01"
    # Late at night in Los Angeles is already tomorrow in UTC: ds follows the entry's zone.
    late = entry(cron="30 23 * * *", timezone="America/Los_Angeles")
    run = late.run_for(late.cron.previous(utc("2024-06-02T06:45")))  # type: ignore[arg-type]
    assert run.ds == "2024-06-01"


def test_ticks_for_the_same_run_share_its_idempotency_key() -> None:
    nightly = entry()
    keys = {
        nightly.run_for(nightly.cron.previous(utc(now))).idempotency_key  # type: ignore[arg-type]
        for now in ("2024-06-02T07:00", "2024-06-02T07:00:30", "2024-06-02T09:59")
    }
    assert keys == {"schedule:leads-nightly:2024-06-02"}


def test_a_schedule_firing_several_times_a_day_keys_each_run_by_its_time() -> None:
    hourly = entry(cron="15 */6 * * *", source="s3://etl-out/leads/{ds}/{time}/")
    run = hourly.run_for(hourly.cron.previous(utc("2024-06-02T17:20")))  # type: ignore[arg-type]
    assert run.idempotency_key == "schedule:leads-nightly:2024-06-02T1215"
    assert run.source == "s3://etl-out/leads/2024-06-02/1215/"


def test_the_example_schedule_file_is_valid() -> None:
    loads = load_schedule_file(ROOT / "beat_schedule" / "example-schedule.toml", 3600)
    assert [load.name for load in loads] == ["leads-nightly", "orders-weekdays", "webinar-members"]
    assert loads[0].fields["mapping"]["INTERNAL_ID"] is None  # "" drops the column
    entries = beat_schedule(60, loads, tick_s=30)
    assert set(entries) == {"mkto-bulk-reconcile", "load:leads-nightly", "load:orders-weekdays",
                            "load:webinar-members"}  # fmt: skip
    assert entries["load:leads-nightly"]["task"] == "mkto_bulk.run_scheduled"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[load]]\nname = "leads-nightly"\ncron = "61 2 * * *"\n'
            'source = "s3://etl/{ds}/"\nobject = "leads"\n',
            '[[load]] "leads-nightly": cron: bad expression "61 2 * * *" (minute must be 0-59',
        ),
        (
            '[[load]]\nname = "a"\ncron = "0 2 * * *"\ntimezone = "America/Chikago"\n'
            'source = "s3://etl/{ds}/"\nobject = "leads"\n',
            '[[load]] "a": timezone: unknown time zone "America/Chikago"',
        ),
        (
            '[[load]]\nname = "a"\ncron = "0 2 * * *"\nsource = "s3://etl/{ds}/"\n'
            'object = "programmembers"\nprogramId = 7\n',
            '[[load]] "a": invalid load request: programMemberStatus: required when object '
            "is programmembers",
        ),
        (
            '[[load]]\nname = "a"\ncron = "0 2 * * *"\nsource = "s3://etl/{ds}/"\n'
            'object = "leads"\nlookupFeild = "email"\n',
            '[[load]] "a": invalid load request: lookupFeild: is not a known field',
        ),
        (
            '[[load]]\nname = "a"\ncron = "0 2 * * *"\nsource = "s3://etl/{date}/"\n'
            'object = "leads"\n',
            '[[load]] "a": source: unknown placeholder {date}',
        ),
        (
            '[[load]]\nname = "a"\ncron = "0 2 * * *"\nsource = "s3://etl/{ds}/"\n'
            'object = "leads"\nidempotencyKey = "x"\n',
            '[[load]] "a": idempotencyKey: is set by the schedule',
        ),
        (
            '[[load]]\nname = "a"\ncron = "0 2 * * *"\nsource = "s3://etl/a/"\nobject = "leads"\n'
            '[[load]]\nname = "a"\ncron = "0 3 * * *"\nsource = "s3://etl/b/"\nobject = "leads"\n',
            '[[load]] "a": name: used by an earlier entry',
        ),
        ('[[load]]\ncron = "0 2 * * *"\n', "[[load]] #1: name: is required"),
        ('[[loads]]\nname = "a"\n', 'unknown key "loads" (scheduled loads are [[load]] tables)'),
        ('[[load]\nname = "a"\n', "not valid TOML"),
    ],
)
def test_a_bad_schedule_file_is_refused_with_a_message_naming_the_entry_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScheduleFileError) as raised:
        load_schedule_file(path, 3600)
    assert str(raised.value).startswith(f"schedule file {path}: ")
    assert message in str(raised.value)


def test_an_entry_survives_the_trip_through_beat_unchanged() -> None:
    nightly = entry(date_offset_days=-1, ready_marker="_SUCCESS", mapping={"E": "email"})
    again = parse_entry(nightly.as_table(), default_wait_s=1)
    assert again == nightly


def test_a_nightly_load_can_go_through_the_data_ingestion_api(tmp_path: Path) -> None:
    run = entry(api="ingestion").run_for(utc("2026-12-01T08:00:00"))
    assert run.payload["api"] == "ingestion"
    path = write(tmp_path, '[[load]]\nname = "a"\ncron = "0 2 * * *"\nsource = "s3://etl/{ds}/"\n'
                           'object = "leads"\napi = "fast"\n')  # fmt: skip
    with pytest.raises(ScheduleFileError, match=r'api: "fast" is not an import API'):
        load_schedule_file(path, 3600)


def test_a_scheduled_load_takes_a_priority_checked_as_a_payloads(tmp_path: Path) -> None:
    run = entry(priority="low").run_for(utc("2026-12-01T08:00:00"))
    assert run.payload["priority"] == "low"
    path = write(tmp_path, '[[load]]\nname = "a"\ncron = "0 2 * * *"\nsource = "s3://etl/{ds}/"\n'
                           'object = "leads"\npriority = "asap"\n')  # fmt: skip
    with pytest.raises(ScheduleFileError, match=r'"a": invalid load request: priority: Input'):
        load_schedule_file(path, 3600)
