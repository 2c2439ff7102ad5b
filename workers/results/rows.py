"""The results file's rows: one per source row, its outcome and why; written and read back.

``<staging>/<load>/results/rows.csv.gz``: gzip of a CSV (comma, RFC 4180
quoting, UTF-8, LF) whose columns are ``COLUMNS``. Rows are in source order:
the source objects in the order they were split, and by line within each.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice

COLUMNS = ("source", "line", "key", "outcome", "reason", "chunk", "chunk_record")
RESULTS_PATH = "results/rows.csv.gz"
FLUSH_BYTES = 1024 * 1024  # CSV text compressed and handed on at a time
WRITE_ROWS = 10_000  # rows written between looks at the text's size


class Outcome(StrEnum):
    """What became of a source row."""

    PROCESSED = "processed"  # imported by Marketo (accepted, for the Data Ingestion API)
    FAILED = "failed"  # refused by Marketo (its failure file), or by the API's encoding
    WARNED = "warned"  # imported, with a warning (Marketo's warning file)
    REJECTED = "rejected"  # refused by the split (the rejects file): never sent
    NOT_SENT = "not_sent"  # in a chunk that was never imported (see the reason)
    # Change-aware syncs: a row whose content did not change since the last sync, and a
    # key of the last sync no longer in the source. Reserved; not written yet.
    UNCHANGED = "unchanged"
    VANISHED = "vanished"


# The rows ``mkto-bulk retry`` loads again.
RETRIED = frozenset({Outcome.FAILED, Outcome.NOT_SENT})


@dataclass(frozen=True)
class ResultRow:
    """One source row. ``chunk`` and ``record``: where it is in the chunk files (its chunk's
    index and its 0-based place after the header), None for a row never in a chunk."""

    source: str
    line: int
    key: str
    outcome: Outcome
    reason: str = ""
    chunk: int | None = None
    record: int | None = None

    def cells(self) -> tuple[str, ...]:
        return (
            self.source,
            str(self.line),
            self.key,
            self.outcome.value,
            self.reason,
            "" if self.chunk is None else str(self.chunk),
            "" if self.record is None else str(self.record),
        )


def encode_batches(batches: Iterable[Iterable[Sequence[object]]]) -> Iterator[bytes]:
    """The results file's bytes (gzip), a piece at a time: the header, then each batch's
    rows (``ResultRow.cells`` in order; numbers may stay numbers)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for batch in batches:
        rows = iter(batch)
        while True:
            written = text.tell()
            writer.writerows(islice(rows, WRITE_ROWS))
            if text.tell() == written:
                break
            if text.tell() >= FLUSH_BYTES:
                yield packer.compress(_utf8(text))
    yield packer.compress(_utf8(text)) + packer.flush()


def encode_rows(rows: Iterable[ResultRow]) -> Iterator[bytes]:
    """``encode_batches`` of rows."""
    return encode_batches([map(ResultRow.cells, rows)])


def _utf8(text: io.StringIO) -> bytes:
    """The buffered text as UTF-8 (text is decoded with U+FFFD for bad bytes already)."""
    data = text.getvalue().encode("utf-8", "replace")
    text.seek(0)
    text.truncate()
    return data


def decode_rows(blocks: Iterable[bytes]) -> Iterator[ResultRow]:
    """The rows of a results file read as ``blocks`` of its (gzip) bytes."""
    header_seen = False
    reader = csv.reader(text_lines(blocks, compressed=True))
    for cells in reader:
        if not header_seen:
            if tuple(cells[: len(COLUMNS)]) != COLUMNS:
                raise ValueError(f"not a results file: its header is {cells!r}")
            header_seen = True
            continue
        source, line, key, outcome, reason, chunk, record = cells[: len(COLUMNS)]
        yield ResultRow(source, int(line), key, Outcome(outcome), reason,
                        int(chunk) if chunk else None, int(record) if record else None)  # fmt: skip


def text_lines(blocks: Iterable[bytes], *, compressed: bool = False) -> Iterator[str]:
    """The lines (LF kept) of a file read as ``blocks``, gzip or not, for the csv module
    (which joins the lines of a quoted field again). Bad UTF-8 becomes U+FFFD."""
    unpacker = zlib.decompressobj(31) if compressed else None
    rest = b""
    for block in blocks:
        data = rest + (unpacker.decompress(block) if unpacker else block)
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            yield from _split(data[:cut].decode("utf-8", "replace"))
    data = rest + (unpacker.flush() if unpacker else b"")
    if data:
        yield from _split(data.decode("utf-8", "replace"))


def _split(text: str) -> Iterator[str]:
    lines = text.split("\n")
    for line in lines[:-1]:
        yield line + "\n"
    if lines[-1]:
        yield lines[-1]
