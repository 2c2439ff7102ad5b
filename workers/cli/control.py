"""``mkto-bulk cancel`` and ``mkto-bulk resume``: stop a load, or carry a stopped one on."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from workers.cli.load import EXIT_FAILED, EXIT_TIMEOUT, Progress, summary_lines

if TYPE_CHECKING:
    from workers.state.control import ControlAnswer

WAIT = click.option(
    "--wait", is_flag=True, help="Follow the load with a progress line until it ends."
)
TIMEOUT = click.option(
    "--timeout",
    type=float,
    default=None,
    help="With --wait: give up waiting after this many seconds (exit 3; the load goes on).",
)


@click.command(short_help="Cancel a load: send nothing more, let its jobs in Marketo finish.")
@click.argument("load_id")
@WAIT
@TIMEOUT
def cancel(load_id: str, wait: bool, timeout: float | None) -> None:
    """Cancel LOAD_ID: its chunks still waiting are not sent; the jobs already in
    Marketo finish and are collected; then it ends `cancelled`, with a report of the
    rows sent and not sent. Cancelling a cancelled load changes nothing. Exits 1 for a
    load that already ended otherwise. `mkto-bulk resume` sends the rest later."""
    from workers.api import cancel_load

    _run(lambda: cancel_load(load_id), wait, timeout, ok_states=("cancelled",))


@click.command(short_help="Resume a cancelled or failed load: send what it did not.")
@click.argument("load_id")
@WAIT
@TIMEOUT
def resume(load_id: str, wait: bool, timeout: float | None) -> None:
    """Resume LOAD_ID, cancelled or failed: its unsent and failed chunks go back in
    line (and a split a cancel stopped goes on); chunks already done are not sent
    again. It is `loading` again and ends with a new report. A load still running is
    left alone; one that succeeded is refused (exit 1)."""
    from workers.api import resume_load

    _run(lambda: resume_load(load_id), wait, timeout, ok_states=())


def _run(
    call: Callable[[], ControlAnswer], wait: bool, timeout: float | None, ok_states: tuple[str, ...]
) -> None:
    """Print what the cancel or resume did; with ``wait``, follow the load to its end."""
    from workers.api import wait_for_load
    from workers.errors import LoadWaitTimeout, MktoBulkError

    try:
        answer = call()
    except MktoBulkError as error:
        raise click.ClickException(str(error)) from None
    click.echo(answer.message)
    if not wait:
        return
    progress = Progress()
    try:
        status = wait_for_load(answer.load_id, timeout=timeout, interval=0.5, on_progress=progress)
    except LoadWaitTimeout as error:
        progress.close()
        click.echo(f"Error: {error}; see `mkto-bulk status {answer.load_id}`", err=True)
        sys.exit(EXIT_TIMEOUT)
    except MktoBulkError as error:
        progress.close()
        raise click.ClickException(str(error)) from None
    progress.close()
    for line in summary_lines(status):
        click.echo(line)
    if not (status.ok or status.state in ok_states):
        sys.exit(EXIT_FAILED)
