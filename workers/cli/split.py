"""``mkto-bulk split``: split a dataset into files under Marketo's size limit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from workers.cli import FILE_FORMATS

if TYPE_CHECKING:
    from workers.storage import Storage

OPTION_NAMES = {"limit": "--limit"}


def check_destination(storage: Storage, dest: str) -> None:
    """Refuse a destination that cannot take files before anything is read or written."""
    from botocore.exceptions import ClientError

    from workers.storage import parse_uri

    location = parse_uri(dest)
    if not location.is_s3:
        path = Path(location.key)
        existing = next((p for p in (path, *path.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            what = "is a file" if existing == path else f"is under {existing}, a file"
            raise click.BadParameter(f"{dest} {what}, not a directory", param_hint="'DEST'")
        return
    try:
        storage.client.head_bucket(Bucket=location.bucket)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise click.BadParameter(f"{dest}: no such bucket", param_hint="'DEST'") from None
        raise


@click.command(short_help="Split a dataset into files under the byte limit.")
@click.argument("source")
@click.argument("dest")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Byte limit per file [CHUNK_BYTE_LIMIT].",
)
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
    type=click.FloatRange(0, 1),
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
    from botocore.exceptions import BotoCoreError, ClientError

    from workers.errors import MktoBulkError, OptionError, bounded
    from workers.settings import MARKETO_MAX_FILE_BYTES, load_settings
    from workers.split.header_check import ColumnMapping
    from workers.split.run import SplitOptions, SplitRun
    from workers.storage import Storage

    if limit is not None and limit >= MARKETO_MAX_FILE_BYTES:
        raise click.BadParameter(
            f"{limit:,} is not below Marketo's {MARKETO_MAX_FILE_BYTES:,}-byte file limit",
            param_hint="'--limit'",
        )
    try:
        settings = load_settings()
        options = SplitOptions(
            limit=settings.chunk_byte_limit if limit is None else limit,
            input_format=input_format,
            output_format=output_format,
            encoding=encoding,
            reject_threshold=(
                settings.reject_threshold if reject_threshold is None else reject_threshold
            ),
            mapping=ColumnMapping.from_file(mapping) if mapping else None,
            max_expansion_ratio=settings.split_max_expansion_ratio,
            max_source_bytes=settings.split_max_source_bytes,
        )
        storage = Storage(settings)
        check_destination(storage, dest)
        run = SplitRun(source, dest, storage=storage, options=options)
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
    except OptionError as error:
        hint = OPTION_NAMES.get(error.option, error.option)
        raise click.BadParameter(str(error), param_hint=f"'{hint}'") from None
    except MktoBulkError as error:
        raise click.ClickException(str(error)) from None
    except (OSError, BotoCoreError, ClientError) as error:  # the disk or the store said no
        raise click.ClickException(bounded(f"{type(error).__name__}: {error}")) from None
