"""Scheduled runs: each beat tick finds the schedule's latest fire time and moves its run along.

A run is identified by its schedule and logical date, so ticks sent twice (two
beats, a restarted beat, a redelivered message) resolve to the same run and
the same idempotency key. The run waits for its source, checked again on every
tick, until the source wait window after the fire time has passed; then it
fails with a message naming the source. Every step is a compare-and-set on the
run's record in Redis, and the load itself is started under the run's
idempotency key, so a tick can die anywhere and the next one carries on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

import redis

from workers.errors import PermanentError, SourceNotFound
from workers.load_request import RequestPolicy
from workers.payload_text import shown, unsendable
from workers.pipeline import start
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.runtime import Runtime
from workers.schedule.config import EntryError, ScheduledLoad, ScheduledRun, parse_entry
from workers.state import keys as redis_keys
from workers.state import scripts
from workers.state.redis_text import text_hash
from workers.storage import join_uri

logger = logging.getLogger(__name__)


class RunState(StrEnum):
    WAITING = "waiting_for_source"
    STARTED = "started"  # the load is started; its own state is in the load ledger
    FAILED = "failed"


# The entries beat validated from its schedule file, published when it starts:
# name -> the entry's table (JSON). A tick names its entry; nothing else can run.
ENTRIES_KEY = redis_keys.SCHEDULES


def publish_entries(client: redis.Redis, loads: list[ScheduledLoad]) -> None:
    """Replace the published entries with ``loads`` (beat, at start), in one transaction."""
    pipe = client.pipeline(transaction=True)
    pipe.delete(ENTRIES_KEY)
    if loads:
        pipe.hset(ENTRIES_KEY, mapping={load.name: json.dumps(load.as_table()) for load in loads})
    pipe.execute()


def run_by_name(
    rt: Runtime, dispatch: Dispatcher, name: object, now: datetime, unexpected: Iterable[str] = ()
) -> str:
    """A tick by the entry's name; a name beat did not publish is refused, nothing written."""
    extra = sorted(unexpected)
    if extra or not isinstance(name, str) or unsendable(name):
        given = ", ".join(shown(k) for k in extra) if extra else type(name).__name__
        given = shown(name) if isinstance(name, str) and not extra else given
        logger.error("run_scheduled refused: it takes only a scheduled load's name (got %s)", given)
        return "refused"
    raw = rt.redis.hget(ENTRIES_KEY, name)
    if raw is None:
        logger.error(
            "run_scheduled refused: no scheduled load %s in the schedule beat read (%s)",
            shown(name),
            ENTRIES_KEY,
        )
        return "unknown"
    policy = RequestPolicy.from_settings(rt.settings)
    try:
        entry = parse_entry(json.loads(raw), rt.settings.schedule_source_wait_s, policy)
    except (EntryError, ValueError) as error:
        logger.error("run_scheduled refused: scheduled load %s: %s", shown(name), error)
        return "refused"
    return tick(rt, dispatch, entry, now)


def record_key(name: str) -> str:
    return redis_keys.schedule_run(name)


def last_run(client: redis.Redis, name: str) -> dict[str, str]:
    """The schedule's latest run as recorded (empty if it never ran)."""
    raw: dict[Any, Any] = client.hgetall(record_key(name))
    return text_hash(raw)


def human_duration(seconds: float) -> str:
    """3h, 1h30m, 45s: how a wait window reads in a message."""
    total = round(seconds)
    parts = [(total // 3600, "h"), (total // 60 % 60, "m"), (total % 60, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


class ScheduleRuns:
    """The runs' records in Redis: one hash per schedule, holding its latest run."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._move = scripts.register(client, "workers.schedule", "schedule_move")

    def get(self, name: str) -> dict[str, str]:
        return last_run(self._redis, name)

    def _apply(self, run: ScheduledRun, allowed: list[str], fields: dict[str, Any]) -> bool:
        fields = dict(fields, updated_at=repr(time.time()))
        args = [run.key, json.dumps(allowed), json.dumps(fields), repr(run.fire_at.timestamp())]
        return bool(self._move(keys=[record_key(run.schedule)], args=args))

    def claim(self, run: ScheduledRun, state: RunState, **fields: Any) -> bool:
        """Make ``run`` the schedule's latest run, unless it already is."""
        record = {
            "run": run.key,
            "ds": run.ds,
            "fire_at": run.fire_at.isoformat(),
            "fire_ts": repr(run.fire_at.timestamp()),
            "source": run.source,
            "state": state.value,
            **fields,
        }
        return self._apply(run, [], record)

    def finish(self, run: ScheduledRun, state: RunState, **fields: Any) -> bool:
        """Move a waiting run on to ``state`` (only once, whoever gets there first)."""
        return self._apply(run, [RunState.WAITING], {"state": state, **fields})


def _ready_uri(entry: ScheduledLoad, run: ScheduledRun) -> str:
    return join_uri(run.source, entry.ready_marker) if entry.ready_marker else run.source


def _source_ready(rt: Runtime, uri: str) -> bool:
    try:
        rt.storage.list_source(uri)
    except SourceNotFound:
        return False
    return True


def tick(rt: Runtime, dispatch: Dispatcher, entry: ScheduledLoad, now: datetime) -> str:
    """Move the schedule's latest run one step; returns what happened (for logs and tests)."""
    fire = entry.cron.previous(now)
    if fire is None:
        return "idle"
    run = entry.run_for(fire)
    deadline = fire.timestamp() + entry.source_wait_s
    runs = ScheduleRuns(rt.redis)
    record = runs.get(entry.name)
    if record.get("run") != run.key:
        if now.timestamp() < deadline:
            runs.claim(run, RunState.WAITING)
        elif record:
            # No tick was handled during the whole window: say so rather than load late.
            late = f"not run: no beat tick was handled within {_window(entry, run)}"
            if runs.claim(run, RunState.FAILED, error=late):
                logger.error("schedule %s ds=%s %s", entry.name, run.ds, late)
                return "missed"
        else:
            return "idle"  # a schedule seen for the first time starts with its next run
        record = runs.get(entry.name)
    if record.get("run") != run.key:
        return "superseded"  # a newer run is recorded (this clock lags)
    if record.get("state") != RunState.WAITING:
        return record["state"]
    uri = _ready_uri(entry, run)
    if not _source_ready(rt, uri):
        if now.timestamp() < deadline:
            return "waiting"
        error = f"source {uri} was not there within {_window(entry, run)}"
        if runs.finish(run, RunState.FAILED, error=error):
            logger.error("schedule %s ds=%s failed: %s", entry.name, run.ds, error)
        return "failed"
    try:
        started = start.start_load(rt, dispatch, run.payload)
    except PermanentError as error:
        runs.finish(run, RunState.FAILED, error=f"the load could not start: {error}")
        logger.error("schedule %s ds=%s: the load could not start: %s", entry.name, run.ds, error)
        return "failed"
    load_id = str(started["load_id"])
    if runs.finish(run, RunState.STARTED, load_id=load_id, started_at=repr(time.time())):
        logger.info("schedule %s ds=%s started load_id=%s", entry.name, run.ds, load_id)
    return "started"


def _window(entry: ScheduledLoad, run: ScheduledRun) -> str:
    fire = run.fire_at.strftime("%Y-%m-%d %H:%M")
    return f"{human_duration(entry.source_wait_s)} after {fire} {entry.cron.timezone}"
