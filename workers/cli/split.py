"""``mkto-bulk split``: split a dataset into files under Marketo's size limit."""

from __future__ import annotations

import click

from workers.cli import FILE_FORMATS


@click.command(short_help="Split a dataset into files under the byte limit.")
@click.argument("source")
@click.argument("dest")
@click.option("--limit", type=int, default=None, help="Byte limit per file [CHUNK_BYTE_LIMIT].")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FILE_FORMATS),
    default=None,
    help="Format of the files written (default: the input's).",
)
@click.option(
    "--input-format",
    type=click.Choice(FILE_FORMATS),
    default=None,
    help="Format of the source (default: from its name, else sniffed from the header).",
)
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of the source.")
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help='JSON object {"column": "apiField" or null to drop}.',
)
@click.option(
    "--reject-threshold",
    type=float,
    default=None,
    help="Fail when more than this fraction of records is rejected [REJECT_THRESHOLD].",
)
def split(
    source: str,
    dest: str,
    limit: int | None,
    output_format: str | None,
    input_format: str | None,
    encoding: str,
    mapping: str | None,
    reject_threshold: float | None,
) -> None:
    """Split SOURCE into files under DEST, each starting with the header.

    SOURCE and DEST are local paths or s3:// URIs; a SOURCE ending in / (or a
    directory) means every object under it, in key order.
    """
    from workers.errors import InputError, MktoBulkError
    from workers.header_check import ColumnMapping
    from workers.settings import load_settings
    from workers.split_run import SplitOptions, SplitRun
    from workers.storage import Storage

    try:
        settings = load_settings()
        options = SplitOptions(
            limit=limit or settings.chunk_byte_limit,
            input_format=input_format,
            output_format=output_format,
            encoding=encoding,
            reject_threshold=(
                settings.reject_threshold if reject_threshold is None else reject_threshold
            ),
            mapping=ColumnMapping.from_file(mapping) if mapping else None,
        )
        if options.limit < 1:
            raise InputError("--limit must be a positive number of bytes")
        run = SplitRun(source, dest, storage=Storage(settings), options=options)
        try:
            for chunk in run:
                click.echo(
                    f"{chunk.uri}\t{chunk.bytes:,} bytes\t{chunk.rows:,} rows\t"
                    f"lines {chunk.first_line:,}-{chunk.last_line:,}"
                )
        finally:
            result = run.progress
            if result is not None and result.files:
                click.echo(
                    f"{len(result.files)} files, {result.rows:,} rows, "
                    f"{result.data_bytes:,} bytes read, average fill {result.average_fill:.1%}"
                )
            if result is not None and result.rejects:
                click.echo(f"{result.rejects:,} rejected records in {result.rejects_uri}:")
                for reject in result.reject_samples[:20]:
                    click.echo(f"  {reject.source} line {reject.line:,}: {reject.reason}")
                if result.rejects > 20:
                    click.echo(f"  ... and {result.rejects - 20:,} more")
    except MktoBulkError as error:
        raise click.ClickException(str(error)) from None
