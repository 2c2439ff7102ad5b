"""``mkto-bulk sandbox``: run the local Marketo stand-in (its own flags, see --help)."""

from __future__ import annotations

import click


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
    short_help="Run the local Marketo sandbox server.",
)
@click.pass_context
def sandbox(ctx: click.Context) -> None:
    """Run the local Marketo sandbox server; all arguments go to it."""
    from infra.sandbox.__main__ import main as sandbox_main

    # --help and usage errors name the command the user typed (mkto-bulk sandbox).
    raise SystemExit(sandbox_main(list(ctx.args), prog=ctx.command_path))
