"""A load of exactly the rows of another load that failed or were not sent.

Which rows: those of the load's results file whose outcome is ``failed`` or
``not_sent`` (``RETRIED``). Their bytes are taken from the chunk files, by each
row's chunk and place in it (never by parsing the source again): the retry's
source, ``<staging>/retry/rows.<format>``, is the chunks' header and those
records, in the results file's order (so its n-th record is the n-th row retried).
Streamed a chunk at a time: any number of rows.

The retry is a normal load of that file with the same parameters, but for what
the chunks already did: their columns are Marketo's (no ``mapping``) and their
format is the load's ``format`` in UTF-8.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from workers.errors import InputError, SourceNotFound
from workers.results.rows import RETRIED, ResultRow, decode_rows
from workers.split.records import iter_records, scan
from workers.state.records import Load
from workers.storage import Storage

READ_BYTES = 1024 * 1024
RETRY_PREFIX = "retry"
# Payload fields a retry does not take from the load it retries (see the module).
NOT_REPEATED = ("mapping", "encoding", "idempotencyKey", "inputFormat")


@dataclass
class RetrySource:
    uri: str
    rows: int = 0


def retry_key(load_id: str) -> str:
    """The idempotency key of a load's retry: retrying twice starts it once."""
    return f"retry-of:{load_id}"


def retry_payload(load: Load, source: str) -> dict[str, Any]:
    payload = {k: v for k, v in load.params.items() if k not in NOT_REPEATED}
    payload["source"] = source
    payload["inputFormat"] = str(load.params.get("format") or "csv")
    payload["idempotencyKey"] = retry_key(load.load_id)
    return payload


def write_retry_source(storage: Storage, load: Load) -> RetrySource:
    """Write the rows to retry as a source file; InputError when there is none."""
    if not load.results_uri:
        why = f": {load.results_error}" if load.results_error else ""
        raise InputError(f"load {load.load_id} has no results file to retry from{why}")
    fmt = str(load.params.get("format") or "csv")
    target = RetrySource(load.staged(f"{RETRY_PREFIX}/rows.{fmt}"))
    rows = (row for row in decode_rows(_blocks(storage, load.results_uri)) if _retried(row))
    first = next(rows, None)
    if first is None:  # (nothing written)
        raise InputError(f"load {load.load_id} has no row that failed or was not sent")
    storage.put_stream(target.uri, _records(storage, load, chain([first], rows), target))
    return target


def _retried(row: ResultRow) -> bool:
    return row.outcome in RETRIED and row.chunk is not None and row.record is not None


def _blocks(storage: Storage, uri: str) -> Iterator[bytes]:
    try:
        with storage.open(uri) as reader:
            while block := reader.read(READ_BYTES):
                yield block
    except SourceNotFound:
        raise InputError(f"the results file {uri} is gone") from None


def _records(
    storage: Storage, load: Load, rows: Iterator[ResultRow], target: RetrySource
) -> Iterator[bytes]:
    """The header, then the records of ``rows`` (all retried), one chunk's at a time."""
    wanted: list[int] = []
    current: int | None = None
    header_written = False
    for row in rows:
        assert row.chunk is not None and row.record is not None
        if row.chunk != current and wanted:
            assert current is not None
            yield from _from_chunk(storage, load, current, wanted, not header_written)
            header_written = True
            target.rows += len(wanted)
            wanted = []
        current = row.chunk
        wanted.append(row.record)
    if wanted and current is not None:
        yield from _from_chunk(storage, load, current, wanted, not header_written)
        target.rows += len(wanted)


def _chunk_uri(load: Load, index: int) -> str:
    fmt = str(load.params.get("format") or "csv")
    return load.staged(f"chunks/chunk-{index:05d}.{fmt}")


def _from_chunk(
    storage: Storage, load: Load, index: int, records: list[int], with_header: bool
) -> Iterator[bytes]:
    """Records ``records`` (0-based, after the header) of chunk ``index``, as stored."""
    data = storage.read_bytes(_chunk_uri(load, index))
    spans = _record_spans(data)
    if with_header:
        yield data[: spans[0][1]]
    for record in records:
        if record + 1 >= len(spans):
            raise InputError(f"chunk {index} of load {load.load_id} has no record {record}")
        start, end = spans[record + 1]
        piece = data[start:end]
        yield piece if piece.endswith(b"\n") else piece + b"\n"


def _record_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each record of a chunk file, its header first."""
    _, newlines, rows = scan(data)
    if newlines != rows:  # records over several lines: found one by one
        return iter_records(data)
    spans = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        spans.append((start, end))
        start = end
    return spans
