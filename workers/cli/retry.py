"""``mkto-bulk retry``: load again exactly the rows of a load that failed or were not sent."""

from __future__ import annotations

import click

from workers.cli.load import InvalidRequest, follow


@click.command(short_help="Load again the rows of a load that failed or were not sent.")
@click.argument("load_id")
@click.option("--wait", is_flag=True, help="Follow the retry with a progress line until it ends.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="With --wait: give up waiting after this many seconds (exit 3; the retry goes on).",
)
def retry(load_id: str, wait: bool, timeout: float | None) -> None:
    """Start a load of exactly the rows of LOAD_ID whose outcome in its results file is
    failed or not_sent, with the load's parameters, and print its id.

    A worker writes those rows (the header and their records, as the load's chunk
    files hold them) to <staging>/LOAD_ID/retry/rows.<format> and starts a normal
    load of it; the two loads name each other (retry_of, retried_by) in the
    ledger, the status and their reports. Retrying the same load again prints the
    same retry. Exit status 2 when there is nothing to retry (the load has not
    ended, has no results file, or no such row); with --wait as for `mkto-bulk load`.
    """
    from workers.api import retry_load
    from workers.errors import InputError, LoadNotFound, MktoBulkError

    try:
        retry_id = retry_load(load_id)
    except (InputError, LoadNotFound) as error:
        raise InvalidRequest(" ".join(str(error).split())) from None
    except MktoBulkError as error:
        raise click.ClickException(str(error)) from None
    click.echo(retry_id)
    if wait:
        follow(retry_id, timeout)
