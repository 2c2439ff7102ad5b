"""The schedule file: scheduled loads as ``[[load]]`` TOML tables, validated entry by entry.

Each entry says when (``cron`` in ``timezone``), what (``source``, a template
over the logical date, plus the load's own fields exactly as
``mkto_bulk.start_load`` takes them) and how long to wait for the source.
The load fields are checked by :func:`parse_load_request`, as a real load's are.
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from workers.errors import CronError, EntryError, InputError, ScheduleFileError
from workers.load_request import RequestPolicy, parse_load_request
from workers.schedule.cron import Cron, zone

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Placeholders a source template may use.
TEMPLATE_FIELDS = frozenset({"ds", "ds_nodash", "time"})
# Keys of a [[load]] table that belong to the schedule; every other key is a load field.
SCHEDULE_KEYS = frozenset(
    {"name", "cron", "timezone", "source", "date_offset_days", "source_wait_s", "ready_marker"}
    | {"sync"}
)
MAX_OFFSET_DAYS = 366


@dataclass(frozen=True)
class ScheduledRun:
    """One firing of a scheduled load: its logical date, its key and the load it starts."""

    schedule: str
    fire_at: datetime  # in the schedule's time zone
    ds: str  # YYYY-MM-DD
    key: str  # the run's identity: ds, plus the time for schedules firing several times a day
    source: str
    payload: dict[str, Any]

    @property
    def idempotency_key(self) -> str:
        return f"schedule:{self.schedule}:{self.key}"


@dataclass(frozen=True)
class ScheduledLoad:
    """One validated ``[[load]]`` entry."""

    name: str
    cron: Cron
    source: str  # template, e.g. s3://etl-out/leads/{ds}/
    fields: dict[str, Any]  # the load's other fields (object, format, mapping, ...)
    date_offset_days: int
    source_wait_s: float
    ready_marker: str | None

    @property
    def beat_name(self) -> str:
        return f"load:{self.name}"

    def run_for(self, fire_at: datetime) -> ScheduledRun:
        """The run of the fire time ``fire_at`` (same fire time, same run: duplicates merge)."""
        local = fire_at.astimezone(self.cron.tz)
        day: date = local.date() + timedelta(days=self.date_offset_days)
        ds = day.isoformat()
        hhmm = local.strftime("%H%M")
        key = f"{ds}T{hhmm}" if self.cron.several_a_day else ds
        source = self.source.format(ds=ds, ds_nodash=ds.replace("-", ""), time=hhmm)
        payload = dict(self.fields, source=source)
        payload["idempotencyKey"] = f"schedule:{self.name}:{key}"
        return ScheduledRun(self.name, local, ds, key, source, payload)

    def as_table(self) -> dict[str, Any]:
        """The entry as its TOML table (what beat passes to the task, JSON-safe)."""
        table: dict[str, Any] = {
            "name": self.name,
            "cron": self.cron.expression,
            "timezone": self.cron.timezone,
            "source": self.source,
            "date_offset_days": self.date_offset_days,
            "source_wait_s": self.source_wait_s,
            **self.fields,
        }
        if self.ready_marker:
            table["ready_marker"] = self.ready_marker
        return table


def _template(source: Any) -> str:
    if not isinstance(source, str) or not source:
        raise EntryError("source: is required (a URI template such as s3://bucket/path/{ds}/)")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(source) if name is not None}
    except ValueError as error:
        raise EntryError(f"source: bad template {source!r}: {error}") from None
    unknown = sorted(names - TEMPLATE_FIELDS)
    if unknown:
        allowed = ", ".join("{" + n + "}" for n in sorted(TEMPLATE_FIELDS))
        raise EntryError(f"source: unknown placeholder {{{unknown[0]}}} (use {allowed})")
    return source


def _number(table: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise EntryError(f"{key}: must be a number from {low:g} to {high:g}, not {value!r}")
    return value


def parse_entry(
    table: dict[str, Any], default_wait_s: float, policy: RequestPolicy | None = None
) -> ScheduledLoad:
    """Validate one ``[[load]]`` table (load fields under ``policy``); EntryError names it."""
    name = table.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise EntryError("name: is required: letters, digits, '.', '_' or '-' (up to 100)")
    timezone = table.get("timezone", "UTC")
    if not isinstance(timezone, str):
        raise EntryError("timezone: must be an IANA time zone name such as America/Chicago")
    try:
        zone(timezone)
    except CronError as error:
        raise EntryError(f"timezone: {error}") from None
    expression = table.get("cron")
    if not isinstance(expression, str):
        raise EntryError('cron: is required (five fields, e.g. "0 2 * * *")')
    try:
        cron = Cron.parse(expression, timezone)
    except CronError as error:
        raise EntryError(f"cron: {error}") from None
    offset = int(_number(table, "date_offset_days", 0, -MAX_OFFSET_DAYS, MAX_OFFSET_DAYS))
    if table.get("date_offset_days", 0) != offset:
        raise EntryError("date_offset_days: must be a whole number of days")
    marker = table.get("ready_marker")
    if marker is not None and (not isinstance(marker, str) or not marker or "/" in marker):
        raise EntryError("ready_marker: must be a file name such as _SUCCESS")
    fields = {k: v for k, v in table.items() if k not in SCHEDULE_KEYS}
    if isinstance(fields.get("mapping"), dict):
        # TOML has no null: an empty target drops the column, as null does in JSON.
        fields["mapping"] = {k: (None if v == "" else v) for k, v in fields["mapping"].items()}
    if "idempotencyKey" in fields:
        raise EntryError("idempotencyKey: is set by the schedule (schedule:<name>:<ds>)")
    sync = table.get("sync", False)
    if not isinstance(sync, bool):
        raise EntryError("sync: must be true or false")
    if sync:  # a change-aware sync, keyed by the entry's name unless it names its syncKey
        fields.setdefault("syncKey", name)
    entry = ScheduledLoad(
        name=name,
        cron=cron,
        source=_template(table.get("source")),
        fields=fields,
        date_offset_days=offset,
        source_wait_s=_number(table, "source_wait_s", default_wait_s, 1, 7 * 24 * 3600),
        ready_marker=marker,
    )
    if marker and not entry.source.endswith("/"):
        raise EntryError("ready_marker: needs a source prefix ending in '/'")
    try:
        # Checked exactly as a real load's payload is, on a sample run.
        parse_load_request(entry.run_for(datetime.now(cron.tz)).payload, policy)
    except InputError as error:
        raise EntryError(str(error)) from None
    return entry


def parse_schedule(
    data: dict[str, Any], default_wait_s: float, policy: RequestPolicy | None = None
) -> list[ScheduledLoad]:
    """Every entry of a parsed file, in file order; EntryError names the entry and field."""
    unknown = sorted(set(data) - {"load"})
    if unknown:
        raise EntryError(f'unknown key "{unknown[0]}" (scheduled loads are [[load]] tables)')
    tables = data.get("load", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise EntryError('"load" must be an array of tables: write each entry as [[load]]')
    entries: list[ScheduledLoad] = []
    seen: set[str] = set()
    for number, table in enumerate(tables, start=1):
        label = f'[[load]] "{table["name"]}"' if isinstance(table.get("name"), str) else None
        label = label or f"[[load]] #{number}"
        try:
            entry = parse_entry(table, default_wait_s, policy)
        except EntryError as error:
            raise EntryError(f"{label}: {error}") from None
        if entry.name in seen:
            raise EntryError(f"{label}: name: used by an earlier entry")
        seen.add(entry.name)
        entries.append(entry)
    return entries


def load_schedule_file(
    path: Path, default_wait_s: float, policy: RequestPolicy | None = None
) -> list[ScheduledLoad]:
    """Read and validate the schedule file; ScheduleFileError with one readable line."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise ScheduleFileError(f"schedule file {path}: cannot read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ScheduleFileError(f"schedule file {path}: not valid TOML: {error}") from None
    try:
        return parse_schedule(data, default_wait_s, policy)
    except EntryError as error:
        raise ScheduleFileError(f"schedule file {path}: {error}") from None


def scheduled_loads(settings: Any) -> list[ScheduledLoad]:
    """The loads of ``settings.schedule_file`` (none when SCHEDULE_FILE is unset)."""
    if settings.schedule_file is None:
        return []
    policy = RequestPolicy.from_settings(settings)
    return load_schedule_file(settings.schedule_file, settings.schedule_source_wait_s, policy)
