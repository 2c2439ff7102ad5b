"""What the results file is made from: the split's manifest, its rejects, each chunk's
records and line index, and Marketo's failure and warning files."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from workers.errors import SourceNotFound
from workers.results.matching import key_of, key_positions, parse, signature
from workers.results.rows import Outcome, ResultRow, text_lines
from workers.split.line_index import LineIndex, index_uri, read_index
from workers.split.manifest import Manifest
from workers.storage import Storage

logger = logging.getLogger(__name__)

READ_BYTES = 1024 * 1024


class ResultsUnavailable(Exception):
    """A file the results need is missing or unreadable (e.g. a load split before the
    split wrote line indexes)."""


def source_key_positions(manifest: Manifest) -> list[int]:
    """Where the key fields are in the source's own columns (a rejected record's)."""
    positions = key_positions(manifest.columns, manifest.key_fields)
    if manifest.keep is None:
        return positions
    keep = manifest.keep
    return [keep[p] if 0 <= p < len(keep) else -1 for p in positions]


def _blocks(storage: Storage, uri: str) -> Iterator[bytes]:
    with storage.open(uri) as reader:
        while block := reader.read(READ_BYTES):
            yield block


def read_rejects(storage: Storage, uri: str | None, manifest: Manifest) -> Iterator[ResultRow]:
    """The rejected records, in split order, as results rows (streamed: any number)."""
    if not uri:
        return
    positions = source_key_positions(manifest)
    delimiter = manifest.input_delimiter
    reader = csv.reader(text_lines(_blocks(storage, uri)))
    next(reader, None)  # source,line,reason,record
    for cells in reader:
        if len(cells) < 4:
            continue
        source, line, reason, record = cells[:4]
        key = ""
        if positions:
            parsed = parse(record, delimiter)
            key = key_of(parsed[0], positions) if parsed else ""
        yield ResultRow(source, int(line), key, Outcome.REJECTED, reason)


@dataclass(frozen=True)
class ChunkContent:
    """One chunk file read back: its header, its records' keys (and signatures, when asked
    for: to match result files), and their source lines."""

    header: list[str]
    keys: list[str]
    signatures: list[int]
    lines: LineIndex


def read_chunk(
    storage: Storage, uri: str, delimiter: str, key_fields: Sequence[str], *, signatures: bool
) -> ChunkContent:
    try:
        index = read_index(storage.read_bytes(index_uri(uri)))
        data = storage.read_bytes(uri)
    except SourceNotFound as error:
        raise ResultsUnavailable(str(error)) from None
    except ValueError as error:
        raise ResultsUnavailable(f"{index_uri(uri)}: {error}") from None
    reader = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""),
                        delimiter=delimiter)  # fmt: skip
    del data
    header = next(reader, None)
    if header is None:
        raise ResultsUnavailable(f"{uri}: empty")
    positions = key_positions(header, key_fields)
    keys: list[str] = []
    sigs: list[int] = []
    if signatures:
        width = len(header)
        for cells in reader:
            keys.append(key_of(cells, positions))
            sigs.append(signature(cells, width))
    elif len(positions) == 1 and positions[0] >= 0:
        at = positions[0]
        keys = [cells[at] if len(cells) > at else "" for cells in reader]
    else:
        keys = [key_of(cells, positions) for cells in reader]
    if len(keys) != index.rows:
        raise ResultsUnavailable(
            f"{uri} holds {len(keys):,} records, its line index {index.rows:,}"
        )
    return ChunkContent(header, keys, sigs, index)


def read_result_file(
    storage: Storage, uri: str | None, delimiter: str, key_fields: Sequence[str]
) -> tuple[list[list[str]], list[int]]:
    """A failure or warning file's rows (cells, then the reason) without its header, and
    where the key fields are in its columns."""
    if not uri:
        return [], []
    try:
        rows = parse(storage.read_bytes(uri), delimiter)
    except SourceNotFound:
        logger.warning("result file %s is missing: its rows count as processed", uri)
        return [], []
    if not rows:
        return [], []
    return rows[1:], key_positions(rows[0][:-1], key_fields)
