"""``mkto-bulk push``: push the records of a JSON Lines file to their queue."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

import click

from workers.cli.load import InvalidRequest, object_fields, object_options
from workers.objects import SPECS

EXIT_REFUSED = 1  # some records were refused (the others were queued)


def read_lines(handle: IO[bytes], name: str) -> tuple[list[tuple[int, Any]], list[str]]:
    """(line number, record) of each non-blank line, and a message for each line that is not
    UTF-8 JSON (a bad line costs itself only: the others are still read)."""
    records: list[tuple[int, Any]] = []
    problems: list[str] = []
    for number, raw in enumerate(handle, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(
                f"{name} line {number}: not UTF-8 text (byte 0x{raw[error.start]:02x} at "
                f"position {error.start + 1})"
            )
            continue
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line.rstrip("\r\n"))))
        except ValueError as error:
            problems.append(f"{name} line {number}: not JSON ({error})")
    return records, problems


def _at_line(message: str, name: str, lines: list[int]) -> str:
    """A worker's ``records[i]: ...`` message, said of the file's line."""
    where, _, reason = message.partition(": ")
    index = int(where.removeprefix("records[").removesuffix("]"))
    return f"{name} line {lines[index]}: {reason}"


@click.command(short_help="Push records (JSON Lines) to a queue flushed by age or size.")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--object",
    "object_type",
    type=click.Choice([spec.name for spec in SPECS]),
    required=True,
    help="What the records are.",
)
@object_options
@click.option(
    "--api",
    type=click.Choice(["ingestion", "bulk"]),
    default=None,
    help="The API the queue flushes through [ingestion when the instance is entitled].",
)
@click.option(
    "--max-age",
    type=float,
    default=None,
    help="Seconds a record may wait in the queue [PUSH_MAX_AGE_S, 60].",
)
@click.option(
    "--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait per push."
)
def push(
    file: IO[bytes],
    object_type: str,
    api: str | None,
    max_age: float | None,
    timeout: float,
    **by_object: Any,
) -> None:
    """Push the records of FILE (one JSON object per line; - for stdin) to their queue.

    Records go in pushes of at most 10,000. Each record is checked against
    Marketo's describe; a refused one is printed with its line and reason, the
    others are queued (exit status 1 if any was refused, 2 if the push as a
    whole was invalid). The queue sends them when its oldest record reaches
    the age limit or it holds a full request.
    """
    from workers import defaults
    from workers.errors import InputError, MktoBulkError
    from workers.push import push_records

    name = getattr(file, "name", "-")
    read, problems = read_lines(file, name)
    envelope: dict[str, Any] = {"object": object_type, **object_fields(by_object),
                                "api": api, "maxAgeS": max_age}  # fmt: skip
    envelope = {k: v for k, v in envelope.items() if v is not None}
    queued, queue = 0, ""
    step = defaults.PUSH_MAX_RECORDS
    for start in range(0, len(read), step):
        part = read[start : start + step]
        try:
            answer = push_records({**envelope, "records": [r for _, r in part]}, timeout=timeout)
        except InputError as error:
            raise InvalidRequest(" ".join(str(error).split())) from None
        except MktoBulkError as error:
            raise click.ClickException(str(error)) from None
        queued += answer.accepted
        lines = [number for number, _ in part]
        problems += [_at_line(r["message"], name, lines) for r in answer.refused]
        queue = answer.queue
    if read:
        click.echo(f"{queued:,} records queued in queue {queue}, {len(problems):,} refused")
    else:
        click.echo(f"{name}: no records")
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(EXIT_REFUSED)
