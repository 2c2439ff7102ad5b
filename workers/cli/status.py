"""``mkto-bulk status``: one load in detail, or the recent loads as a table."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import click

from workers.cli import columns

if TYPE_CHECKING:
    from workers.api import LoadStatus
    from workers.push.status import QueueStatus


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def _duration(status: LoadStatus) -> str:
    end = status.finished_at or time.time()
    seconds = max(0, int(end - status.created_at))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _chunks(status: LoadStatus) -> str:
    total = "?" if status.chunks_total is None else str(status.chunks_total)
    return f"{status.chunks.done + status.chunks.failed}/{total}"


def _state(status: LoadStatus) -> str:
    """The state, and why a live load is not moving when it waits (the daily quota)."""
    if status.waiting and not status.terminal:
        return f"{status.state} (waiting for the daily quota)"
    return status.state


def table(statuses: list[LoadStatus]) -> list[str]:
    header = ("LOAD ID", "STATE", "OBJECT", "CHUNKS", "PROCESSED", "FAILED", "CREATED", "SOURCE")
    rows = [header] + [
        (
            s.load_id,
            _state(s),
            s.object,
            _chunks(s),
            f"{s.rows_processed:,}",
            f"{s.rows_failed:,}",
            _when(s.created_at),
            s.source,
        )
        for s in statuses
    ]
    return columns(rows)


def details(status: LoadStatus) -> list[str]:
    c = status.chunks
    total = "unknown yet (splitting)" if status.chunks_total is None else str(status.chunks_total)
    parameters = {
        k: v
        for k, v in status.parameters.items()
        if k not in ("source", "object", "priority") and v not in (None, "", {})
    }
    lines = [
        f"load:      {status.load_id}",
        f"state:     {status.state}"
        + (f", {status.waiting}" if status.waiting and not status.terminal else ""),
        f"source:    {status.source}",
        f"object:    {status.object}"
        + (f"  {json.dumps(parameters, sort_keys=True)}" if parameters else ""),
        f"priority:  {status.priority}",
        f"created:   {_when(status.created_at)}",
        f"finished:  {_when(status.finished_at)}  (elapsed {_duration(status)})",
        f"chunks:    {total} total; {c.split} split, {c.waiting} waiting, {c.queued} queued, "
        f"{c.importing} importing, {c.done} done, {c.failed} failed"
        + (f", {c.cancelled} cancelled" if c.cancelled else ""),
        f"jobs:      {status.jobs_submitted} submitted, {status.jobs_retried} retried",
        f"rows:      {status.rows_read:,} read, {status.rows_rejected:,} rejected, "
        f"{status.rows_submitted:,} submitted, {status.rows_skipped:,} blank lines skipped",
        f"           {status.rows_processed:,} processed, {status.rows_failed:,} failed, "
        f"{status.rows_warned:,} with warnings, {status.rows_in_failed_jobs:,} in failed jobs, "
        f"{status.rows_not_submitted:,} not submitted",
        f"error:     {status.error or '-'}",
    ]
    lines[2:2] = _control_lines(status)
    if status.last_error:
        lines.append(f"last step error: {status.last_error}")
    for index, message in status.chunk_errors[:20]:
        lines.append(f"           chunk {index} failed: {message}")
    if len(status.chunk_errors) > 20:
        lines.append(f"           ... and {len(status.chunk_errors) - 20} more failed chunks")
    lines += [
        f"staging:   {status.staging_uri or '-'}",
        f"rejects:   {status.rejects_uri if status.rows_rejected and status.rejects_uri else '-'}",
        f"report:    {status.report_uri or '-'}",
    ]
    return lines + _results(status)


def _results(status: LoadStatus) -> list[str]:
    """The results file, its outcomes and top reasons, and the retry links."""
    lines = []
    if status.results_uri:
        lines.append(f"results:   {status.results_uri}")
        if status.outcomes:
            shown = ", ".join(f"{count:,} {name}" for name, count in status.outcomes.items())
            lines.append(f"           rows by outcome: {shown}")
    elif status.results_error:
        lines.append(f"results:   not written: {status.results_error}")
    for title, reasons in (("top failure reasons:", status.top_failure_reasons),
                           ("top warning reasons:", status.top_warning_reasons)):  # fmt: skip
        if reasons:
            lines.append(title)
            lines += [f"           {reason.text()}" for reason in reasons]
    if status.retry_of:
        lines.append(f"retry of:  {status.retry_of}")
    if status.retried_by:
        lines.append(f"retried by: {status.retried_by}")
    return lines


def _control_lines(status: LoadStatus) -> list[str]:
    """What a cancel or resume did to the load, under its state."""
    lines = []
    if status.cancel_requested_at:
        lines.append(f"cancel:    requested {_when(status.cancel_requested_at)}; "
                     f"{status.rows_cancelled:,} rows in {status.chunks.cancelled} chunks not "
                     "sent" + ("; the split was stopped, the rest of the source not read"
                               if status.split_stopped else ""))  # fmt: skip
    if status.resumes:
        lines.append(f"resumed:   {status.resumes} time(s)")
    return lines


def _age(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


def queue_table(queues: list[QueueStatus]) -> list[str]:
    """The push queues: what waits in each, and what each has sent and failed."""
    header = ("QUEUE", "OBJECT", "API", "DEPTH", "OLDEST", "FLUSHES", "SENT", "FAILED",
              "REFUSED", "PARAMETERS")  # fmt: skip
    rows = [header] + [
        (
            q.queue,
            q.object,
            q.api,
            f"{q.depth:,}",
            _age(q.oldest_age_s) if q.depth else "-",
            f"{q.flushes:,}",
            f"{q.sent:,}",
            f"{q.failed:,}",
            f"{q.refused:,}",
            json.dumps(q.parameters, sort_keys=True) if q.parameters else "-",
        )
        for q in queues
    ]
    return columns(rows)


def _queues() -> list[QueueStatus]:
    import redis

    from workers.errors import TransientError
    from workers.push.status import queue_statuses
    from workers.redis_clients import redis_client
    from workers.settings import load_settings

    settings = load_settings()
    try:
        return queue_statuses(redis_client(settings), settings.instance)
    except redis.RedisError as error:
        raise TransientError(f"cannot read the push queues (REDIS_URL): {error}") from None


@click.command(short_help="Show a load, or the recent loads and the push queues.")
@click.argument("load_id", required=False)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="How many recent loads to list.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option(
    "--queues",
    "only_queues",
    is_flag=True,
    help="Show only the push queues (depth, oldest record, flushes, sent, failed).",
)
def status(load_id: str | None, limit: int, as_json: bool, only_queues: bool) -> None:
    """Show LOAD_ID in detail (state, counts, error, report location), or,
    without LOAD_ID, the most recent loads, newest first, then the push queues."""
    from workers.api import load_status, recent_loads
    from workers.errors import MktoBulkError

    try:
        if only_queues:
            queues = _queues()
            if as_json:
                click.echo(json.dumps([q.as_dict() for q in queues], indent=2))
            elif not queues:
                click.echo("no push queues yet")
            else:
                click.echo("\n".join(queue_table(queues)))
            return
        if load_id:
            one = load_status(load_id)
            if as_json:
                click.echo(json.dumps(one.as_dict(), indent=2))
            else:
                click.echo("\n".join(details(one)))
            return
        loads = recent_loads(limit)
        queues = [] if as_json else _queues()
    except MktoBulkError as error:
        raise click.ClickException(str(error)) from None
    if as_json:  # the loads only, as ever: --queues --json gives the queues
        click.echo(json.dumps([s.as_dict() for s in loads], indent=2))
        return
    click.echo("\n".join(table(loads)) if loads else "no loads yet")
    if queues:
        click.echo("\npush queues:")
        click.echo("\n".join(queue_table(queues)))
