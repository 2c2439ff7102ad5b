"""``mkto-bulk report``: a finished load's HTML report into a local file."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(short_help="Write a finished load's HTML report to a file.")
@click.argument("load_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Where to write it (default: report-LOAD_ID.html in the current directory).",
)
def report(load_id: str, out: Path | None) -> None:
    """Write LOAD_ID's report.html (a timeline of its jobs and Marketo's import slots, its
    chunks, failure reasons, rates and API calls): the page the load stored next to
    report.json in S3, or, when S3 has none, one built again from the ledger. The file is
    self-contained and opens offline."""
    import redis

    from workers.errors import LoadNotFound, MktoBulkError, TransientError
    from workers.redis_clients import redis_client
    from workers.report.write import stored_or_rebuilt
    from workers.settings import load_settings
    from workers.state.ledger import TERMINAL_LOAD_STATES, Ledger, LedgerError
    from workers.storage import Storage

    try:
        settings = load_settings()
        ledger = Ledger(redis_client(settings))
        try:
            load, chunks = ledger.snapshot(load_id)
        except LedgerError:
            raise LoadNotFound(f"no load {load_id!r} in the ledger") from None
        except redis.RedisError as error:
            raise TransientError(f"cannot read the load ledger (REDIS_URL): {error}") from None
        if load.state not in TERMINAL_LOAD_STATES:
            raise click.ClickException(
                f"load {load_id} is {load.state.value}: its report is written when it ends "
                f"(mkto-bulk status {load_id} shows it meanwhile)"
            )
        page, origin = stored_or_rebuilt(Storage(settings), load, chunks)
    except MktoBulkError as error:
        raise click.ClickException(str(error)) from None
    target = out or Path(f"report-{load_id}.html")
    try:
        target.write_bytes(page)
    except OSError as error:
        raise click.ClickException(f"cannot write {target}: {error.strerror}") from None
    click.echo(f"wrote {target.resolve()} ({len(page):,} bytes, from {origin})")
