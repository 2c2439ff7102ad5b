"""Each chunk record's source line: the line index the split writes next to every chunk.

A chunk holds the records of one or more source objects, with the blank lines
and the rejected records of the source left out and records that span lines
(quoted newlines) kept whole, so a record's position in the chunk does not say
its line. The split knows each record's line as it packs it and writes it down,
one small file per chunk: ``chunk-NNNNN.lines.gz`` beside ``chunk-NNNNN.csv``.

The file is gzip of a JSON header line, then one unsigned LEB128 varint per
record of the chunk, in order::

    {"version": 1, "rows": 3, "sources": [["s3://etl/a.csv", 0]]}\\n  <varints>

Each varint is the record's first line minus the previous record's (for the
first record of each source, ``sources`` giving the index of that record: the
line itself). Records of one line in a row are all ``01`` bytes, which gzip
folds to almost nothing: an index costs about 100 bytes per 10 MB chunk of
one-line records, and about a bit per record where records of one and of more
lines mix.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from itertools import accumulate

from workers.split.records_python import varint

VERSION = 1
SUFFIX = ".lines.gz"


def index_name(chunk_name: str) -> str:
    """``chunk-00003.csv`` -> ``chunk-00003.lines.gz``."""
    stem = chunk_name.rsplit(".", 1)[0] if "." in chunk_name else chunk_name
    return stem + SUFFIX


def index_uri(chunk_uri: str) -> str:
    """The line index written beside a chunk file."""
    head, _, name = chunk_uri.rpartition("/")
    return f"{head}/{index_name(name)}" if head else index_name(name)


# The lines each record of a run spans: bytes (one a record, each below 128: a varint is
# then its byte) or a list; None when every record is one line.
Spans = bytes | list[int] | None


def as_indexable(spans: bytes | None) -> Spans:
    """Varints as something indexed by record: the bytes themselves when every value is a
    single byte (the usual case), else the values."""
    if spans is None or spans.isascii():
        return spans
    return decode_varints(spans)


# (source, first line, records, their spans (None: one line each), lines in all)
_Run = tuple[str, int, int, Spans, int]


class LineIndexBuilder:
    """Collects the lines of one chunk's records as the splitter packs them.

    Adding is cheap (the splitter's thread is the split's busiest, and the scanner
    found each record's lines in the pass it made anyway); the index is encoded by
    ``PendingIndex.encode`` in the writing thread.
    """

    def __init__(self) -> None:
        self._runs: list[_Run] = []
        self.rows = 0

    def add_one_line_records(self, source: str, first_line: int, rows: int) -> None:
        """``rows`` records of one line each, from ``first_line`` on."""
        if rows > 0:
            self._runs.append((source, first_line, rows, None, rows))
            self.rows += rows

    def add_spans(self, source: str, first_line: int, spans: bytes | list[int], lines: int) -> None:
        """Records from ``first_line`` on, one after the other, spanning ``spans`` lines each
        (``lines`` in all)."""
        if spans:
            self._runs.append((source, first_line, len(spans), spans, lines))
            self.rows += len(spans)

    def finish(self) -> PendingIndex:
        """The index of the records added so far; the builder starts over."""
        pending = PendingIndex(self._runs, self.rows)
        self._runs = []
        self.rows = 0
        return pending


class PendingIndex:
    """One chunk's index, encoded when asked (see ``LineIndexBuilder``)."""

    def __init__(self, runs: list[_Run], rows: int) -> None:
        self._runs = runs
        self.rows = rows

    def encode(self) -> bytes:
        """The index, uncompressed: its header line and one varint per record."""
        parts: list[bytes] = []
        sources: list[list[str | int]] = []
        current: str | None = None
        last_line = rows = 0
        for source, first_line, count, spans, lines in self._runs:
            if source != current:
                sources.append([source, rows])
                current = source
                last_line = 0
            parts.append(varint(first_line - last_line))
            # Each next record's line is this one's plus its span: all spans but the last.
            if spans is None:
                parts.append(b"\x01" * (count - 1))
            elif isinstance(spans, bytes):
                parts.append(spans[:-1])
            else:
                parts.append(b"".join(varint(span) for span in spans[:-1]))
            last_line = first_line + lines - (1 if spans is None else spans[-1])
            rows += count
        header = {"version": VERSION, "rows": rows, "sources": sources}
        return json.dumps(header).encode() + b"\n" + b"".join(parts)


def compress(index: bytes) -> bytes:
    """An index as it is stored: gzip with run-length matching only (runs of ``01`` fold
    to a few bytes, a mix of one- and two-line records to about a bit a record), several
    times faster than zlib's default on such data."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31, 9, zlib.Z_RLE)
    return packer.compress(index) + packer.flush()


@dataclass(frozen=True)
class LineIndex:
    """One chunk's records: the source and first line of each, in the chunk's order."""

    sources: tuple[tuple[str, int], ...]  # (source, index of its first record)
    lines: tuple[int, ...]

    @property
    def rows(self) -> int:
        return len(self.lines)

    def source_of(self, record: int) -> str:
        """The source object record ``record`` (0-based) came from."""
        found = self.sources[0][0]
        for source, first in self.sources:
            if first > record:
                break
            found = source
        return found

    def source_runs(self) -> list[tuple[str, int, int]]:
        """(source, first record, end record) of each source's run of records."""
        runs = []
        for position, (source, first) in enumerate(self.sources):
            end = self.sources[position + 1][1] if position + 1 < len(self.sources) else self.rows
            runs.append((source, first, end))
        return runs


def read_index(stored: bytes) -> LineIndex:
    """A stored (gzip) index; ValueError when it cannot be read."""
    try:
        data = zlib.decompress(stored, 47)  # gzip or zlib
    except zlib.error as error:
        raise ValueError(f"line index is not gzip: {error}") from None
    head, newline, body = data.partition(b"\n")
    header = json.loads(head) if newline else None
    if not isinstance(header, dict) or header.get("version") != VERSION:
        raise ValueError("line index has no version 1 header")
    deltas = decode_varints(body)
    if len(deltas) != header["rows"]:
        raise ValueError(
            f"line index holds {len(deltas):,} records, its header says {header['rows']:,}"
        )
    sources = tuple((str(source), int(first)) for source, first in header["sources"])
    lines: list[int] = []
    for position, (_, first) in enumerate(sources):
        end = sources[position + 1][1] if position + 1 < len(sources) else len(deltas)
        lines.extend(accumulate(deltas[first:end]))  # each source's first delta is its line
    return LineIndex(sources, tuple(lines))


def decode_varints(body: bytes) -> list[int]:
    """The values of a run of unsigned LEB128 varints."""
    if body.isascii():
        return list(body)
    values: list[int] = []
    value = shift = 0
    for byte in body:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        values.append(value)
        value = shift = 0
    return values
