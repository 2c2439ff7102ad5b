"""The ``mkto-bulk`` command line.

Subcommands live in their own modules and are imported only when named, and
those modules import heavy libraries (boto3, celery) inside the command body,
so ``mkto-bulk --help`` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import click

# Marketo's file formats, for the commands' options.
FILE_FORMATS = ("csv", "tsv", "ssv")

# name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "cancel": "workers.cli.control:cancel",
    "load": "workers.cli.load:load",
    "metrics": "workers.cli.metrics:metrics",
    "push": "workers.cli.push:push",
    "quota": "workers.cli.quota:quota",
    "report": "workers.cli.report:report",
    "retry": "workers.cli.retry:retry",
    "resume": "workers.cli.control:resume",
    "sandbox": "workers.cli.sandbox:sandbox",
    "schedule": "workers.cli.schedule:schedule",
    "split": "workers.cli.split:split",
    "status": "workers.cli.status:status",
}


def columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as aligned text columns; the last column is left ragged (it may be long)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    ]


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="mkto-bulk")
def cli() -> None:
    """Load S3 datasets into Marketo through its Bulk Import API."""


def main() -> None:
    cli()
