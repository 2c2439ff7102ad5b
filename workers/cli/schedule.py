"""``mkto-bulk schedule list``: the scheduled loads, their next run and how the last one went."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from workers.cli import columns

if TYPE_CHECKING:
    from workers.schedule.config import ScheduledLoad

EXIT_INVALID = 2


def _last_result(last: dict[str, Any]) -> str:
    state = last.get("state")
    if not state:
        return "-"
    if state == "started":
        return f"load {last.get('load_id')}: {last.get('load_state') or 'starting'}"
    if state == "waiting_for_source":
        return f"waiting for {last.get('source')}"
    return f"{state}: {last.get('error') or '-'}"


def _describe(entry: ScheduledLoad, last: dict[str, str], now: datetime) -> dict[str, Any]:
    from workers.api import LoadNotFound, load_status

    upcoming = entry.cron.next_after(now)
    summary: dict[str, Any] | None = None
    if last:
        summary = {k: last[k] for k in ("ds", "state", "fire_at", "source", "load_id", "error")
                   if last.get(k)}  # fmt: skip
        if last.get("load_id"):
            try:
                summary["load_state"] = load_status(last["load_id"]).state
            except LoadNotFound:
                summary["load_state"] = None
    return {
        "name": entry.name,
        "cron": entry.cron.expression,
        "timezone": entry.cron.timezone,
        "source": entry.source,
        "next_run": upcoming.isoformat() if upcoming else None,
        "last_run": summary,
    }


def _row(item: dict[str, Any]) -> tuple[str, ...]:
    from workers.schedule.cron import zone

    upcoming = item["next_run"]
    when = "-"
    if upcoming:  # shown in the entry's own zone, with its abbreviation (CST, CDT)
        local = datetime.fromisoformat(upcoming).astimezone(zone(item["timezone"]))
        when = local.strftime("%Y-%m-%d %H:%M %Z")
    last = item["last_run"]
    return (
        item["name"],
        item["cron"],
        item["timezone"],
        when,
        (last or {}).get("ds", "-"),
        _last_result(last or {}),
    )


@click.group(short_help="Scheduled (nightly) loads.")
def schedule() -> None:
    """The loads that beat starts from the schedule file (SCHEDULE_FILE)."""


@schedule.command("list", short_help="Each scheduled load, its next run and last result.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def list_schedule(as_json: bool) -> None:
    """Show each scheduled load: its cron and time zone, its next run in that zone, and
    the last run's logical date and result (the load's state, or why it failed)."""
    import redis

    from workers.errors import MktoBulkError, SettingsError
    from workers.redis_clients import redis_client
    from workers.schedule.config import scheduled_loads
    from workers.schedule.runs import last_run
    from workers.settings import load_settings

    try:
        settings = load_settings()
        entries = scheduled_loads(settings)
    except SettingsError as error:
        # The same line beat prints when it refuses to start.
        click.echo(f"mkto-bulk: {error}", err=True)
        sys.exit(EXIT_INVALID)
    now = datetime.now(UTC)
    client = redis_client(settings, socket_connect_timeout=5)
    items = []
    reachable = True
    for entry in entries:
        try:
            last = last_run(client, entry.name) if reachable else {}
            items.append(_describe(entry, last, now))
        except (redis.RedisError, MktoBulkError) as error:
            click.echo(f"mkto-bulk: last runs unknown: cannot read Redis: {error}", err=True)
            reachable = False
            items.append(_describe(entry, {}, now))
    if as_json:
        click.echo(json.dumps(items, indent=2))
    elif not items:
        click.echo("no scheduled loads (SCHEDULE_FILE is not set or has no [[load]] entries)")
    else:
        header = ("NAME", "CRON", "TIMEZONE", "NEXT RUN", "LAST DS", "LAST RESULT")
        click.echo("\n".join(columns([header] + [_row(item) for item in items])))
