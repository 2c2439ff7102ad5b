"""``mkto-bulk load``: start a load, and optionally follow it to the end."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from workers.cli import FILE_FORMATS
from workers.objects import SPECS, CliOption
from workers.priority import GRANT_ORDER

if TYPE_CHECKING:
    from workers.api import LoadStatus

EXIT_INVALID = 2
EXIT_FAILED = 1
EXIT_TIMEOUT = 3
BAR_WIDTH = 24


F = TypeVar("F", bound=Callable[..., Any])


class InvalidRequest(click.ClickException):
    exit_code = EXIT_INVALID


def _options() -> dict[str, list[CliOption]]:
    """The object types' options by flag, in registry order: types sharing a field share
    its option (one flag, each type's help)."""
    by_flag: dict[str, list[CliOption]] = {}
    for spec in SPECS:
        for option in spec.cli_options:
            by_flag.setdefault(option.flag, []).append(option)
    return by_flag


def object_options(command: F) -> F:
    """Each object type's own options (its spec's ``cli_options``), in registry order."""
    for flag, options in reversed(_options().items()):
        field = options[0].field
        kind: Any = field.type
        if field.choices:
            kind = click.Choice(field.choices, case_sensitive=field.case_sensitive)
        help_text = " ".join(option.help for option in options)
        command = click.option(flag, field.attr, type=kind, default=None, help=help_text)(command)
    return command


def object_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The payload fields the object types' options set, under their payload names."""
    return {
        options[0].field.alias: values[options[0].field.attr] for options in _options().values()
    }


def _mapping(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:
        raise InvalidRequest(
            f"invalid load request: mapping: cannot read {path}: {error}"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"invalid load request: mapping: {path} must hold a JSON object")
    return data


def progress_line(status: LoadStatus | None, elapsed: float) -> str:
    """One line: a bar over finished chunks, the chunks at each step and the rows so far."""
    clock = f"{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}"
    if status is None:
        return f"{clock} waiting for a worker to start the load"
    c = status.chunks
    total = status.chunks_total
    finished = c.done + c.failed
    denominator = total if total is not None else max(c.split, 1)
    filled = int(BAR_WIDTH * min(finished, denominator) / max(denominator, 1))
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    split = f"{c.split} files split" + ("" if total is not None else " (splitting)")
    return (
        f"{clock} [{bar}] {status.state}: {split}; jobs {c.waiting} waiting, {c.queued} queued, "
        f"{c.importing} importing, {c.done} done, {c.failed} failed; "
        f"rows {status.rows_processed:,} processed, {status.rows_failed:,} failed"
    )


def summary_lines(status: LoadStatus) -> list[str]:
    lines = [
        f"load {status.load_id} {status.state}",
        f"  rows: {status.rows_read:,} read, {status.rows_rejected:,} rejected, "
        f"{status.rows_submitted:,} submitted, {status.rows_processed:,} processed, "
        f"{status.rows_failed:,} failed, {status.rows_warned:,} with warnings",
        f"  chunks: {status.chunks.split} ({status.chunks.done} done, "
        f"{status.chunks.failed} failed)",
    ]
    if status.error:
        lines.append(f"  error: {status.error}")
    for index, message in status.chunk_errors[:10]:
        lines.append(f"  chunk {index} failed: {message}")
    if status.rejects_uri and status.rows_rejected:
        lines.append(f"  rejected records: {status.rejects_uri}")
    if status.results_uri:
        lines.append(f"  results: {status.results_uri}")
    if status.report_uri:
        lines.append(f"  report: {status.report_uri}")
    return lines


class Progress:
    """Redraws one line on a terminal; elsewhere prints a line whenever it changes."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.last = ""
        self.width = 0

    def __call__(self, status: LoadStatus | None) -> None:
        line = progress_line(status, time.monotonic() - self.started)
        changed = line.split(" ", 1)[1]
        if self.tty:
            pad = max(0, self.width - len(line))
            click.echo("\r" + line + " " * pad, nl=False, err=True)
            self.width = len(line)
        elif changed != self.last:
            click.echo(line, err=True)
        self.last = changed

    def close(self) -> None:
        if self.tty and self.width:
            click.echo(err=True)


@click.command(short_help="Start a load (optionally wait for it to finish).")
@click.argument("source")
@click.option(
    "--object",
    "object_type",
    type=click.Choice([spec.name for spec in SPECS]),
    required=True,
    help="What to import.",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FILE_FORMATS),
    default=None,
    help="Format of the files sent to Marketo [csv].",
)
@click.option(
    "--input-format",
    type=click.Choice(FILE_FORMATS),
    default=None,
    help="Delimiter of the source files [from the name, else detected].",
)
@click.option(
    "--encoding", default=None, help="Encoding of the source files, e.g. latin-1 [utf-8]."
)
@object_options
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False),
    default=None,
    help='JSON object {"column": "apiField" or null to drop}.',
)
@click.option(
    "--idempotency-key",
    default=None,
    help="Starting the same key again (same payload) returns the first load.",
)
@click.option(
    "--api",
    default=None,
    help="The import API: bulk (Marketo's bulk import) [default] or ingestion (its Data "
    "Ingestion API, on instances entitled to it).",
)
@click.option(
    "--priority",
    type=click.Choice([priority.value for priority in GRANT_ORDER]),
    default=None,
    help="Which loads get Marketo's import slots first: high, then normal [default], then low; "
    "loads of one priority take turns.",
)
@click.option(
    "--sync-key",
    default=None,
    help="A change-aware sync: send only the rows changed since the last sync of this key.",
)
@click.option(
    "--full", is_flag=True, help="With --sync-key: send every row and rebuild the sync's state."
)
@click.option("--callback", default=None, help="Task name sent the report when the load ends.")
@click.option(
    "--callback-queue", default=None, help="The ETL's queue the callback is sent to (required)."
)
@click.option("--wait", is_flag=True, help="Follow the load with a progress line until it ends.")
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="With --wait: give up waiting after this many seconds (exit 3; the load goes on).",
)
def load(
    source: str,
    object_type: str,
    file_format: str | None,
    input_format: str | None,
    encoding: str | None,
    mapping: str | None,
    idempotency_key: str | None,
    api: str | None,
    priority: str | None,
    sync_key: str | None,
    full: bool,
    callback: str | None,
    callback_queue: str | None,
    wait: bool,
    timeout: float | None,
    **by_object: Any,
) -> None:
    """Load SOURCE (an s3:// object or prefix) into Marketo and print the load id.

    The request is checked before it is sent: an invalid one prints the
    reason, naming the field, and exits with status 2.

    With --wait, a progress line follows the load (files split, jobs waiting,
    queued, importing and done in Marketo, rows processed and failed) until it
    ends, then a summary is printed. The exit status is then 0 when the load
    succeeded, with or without row errors (succeeded, succeeded_with_row_errors;
    see the report for the failed rows), and 1 when it failed.
    """
    from workers.api import start_load
    from workers.errors import InputError, MktoBulkError

    payload: dict[str, Any] = {
        "source": source,
        "object": object_type,
        "format": file_format,
        "inputFormat": input_format,
        "encoding": encoding,
        **object_fields(by_object),
        "mapping": _mapping(mapping) if mapping else None,
        "api": api,
        "priority": priority,
        "idempotencyKey": idempotency_key,
        "syncKey": sync_key,
        "full": full or None,
        "callback": callback,
        "callbackQueue": callback_queue,
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    try:
        load_id = start_load(payload)
    except InputError as error:
        raise InvalidRequest(" ".join(str(error).split())) from None
    except MktoBulkError as error:
        raise click.ClickException(str(error)) from None
    click.echo(load_id)
    if wait:
        follow(load_id, timeout)


def follow(load_id: str, timeout: float | None) -> None:
    """``--wait``: a progress bar until the load ends, then its summary; exits non-zero
    when it did not succeed (``EXIT_FAILED``) or the wait ran out (``EXIT_TIMEOUT``)."""
    from workers.api import LoadWaitTimeout, wait_for_load
    from workers.errors import MktoBulkError

    progress = Progress()
    try:
        status = wait_for_load(load_id, timeout=timeout, interval=0.5, on_progress=progress)
    except LoadWaitTimeout as error:
        progress.close()
        click.echo(f"Error: {error}; see `mkto-bulk status {load_id}`", err=True)
        sys.exit(EXIT_TIMEOUT)
    except KeyboardInterrupt:
        progress.close()
        click.echo(f"stopped waiting; the load goes on: `mkto-bulk status {load_id}`", err=True)
        sys.exit(130)
    except MktoBulkError as error:
        progress.close()
        raise click.ClickException(str(error)) from None
    progress.close()
    for line in summary_lines(status):
        click.echo(line)
    if not status.ok:
        sys.exit(EXIT_FAILED)
