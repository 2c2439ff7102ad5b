"""The splitting core: record-aligned pieces in, files under the byte limit out.

Data arrives as UTF-8 blocks of one source part at a time. ``Splitter``
cuts them into record-aligned *pieces* of about ``GRAIN`` bytes (validating
each: no NUL byte, valid UTF-8; a piece that fails is taken apart record by
record and only the bad records are rejected), then packs pieces into files
of at most ``limit`` bytes including the header, cutting the last piece of a
file at the last record that fits. Pieces carry their row count, newline
count and first source line, so every file knows its rows and source lines.

A record that cannot fit in a file, or whose quoted field is still open at
the end of its part, is streamed to the rejects file. Pieces are views into
the blocks they came in (never copied), so memory stays at a few blocks, the
files waiting to be written and a record-length of carry however big the
input is.

Each file is handed to the sink (``write_chunk``) as soon as it is full and
announced through ``on_chunk``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from workers.records import clean, iter_records, last_boundary, record_end, scan
from workers.rejects import RejectsWriter

GRAIN = 256 * 1024


@dataclass(frozen=True)
class ChunkInfo:
    """One written file: where, how big, which rows and source lines it holds."""

    index: int
    uri: str
    bytes: int
    rows: int
    first_source: str
    first_line: int
    last_source: str
    last_line: int


@dataclass
class PartStats:
    """Per source object: what was read and what became of it."""

    uri: str
    object_bytes: int = 0
    data_bytes: int = 0
    rows: int = 0
    rejects: int = 0
    skipped: int = 0  # blank lines: neither submitted nor rejected, but counted


@dataclass
class _Piece:
    """``data[start:end]``, not copied out of the block it came in."""

    data: bytes
    start: int
    end: int
    source: str
    first_line: int
    newlines: int
    rows: int


def record_size_reason(size: int, header: int, limit: int, note: str = "") -> str:
    if size > limit:
        return f"record of {size:,} bytes{note} is larger than the {limit:,}-byte limit"
    return (
        f"record of {size:,} bytes{note} plus the {header:,}-byte header is larger than "
        f"the {limit:,}-byte limit"
    )


UNCLOSED_QUOTE = "unclosed quoted field at end of file"
NUL_BYTE = "NUL byte in record"


def utf8_problem(record: bytes, encoding: str) -> str | None:
    """None when ``record`` is valid UTF-8, else the reason it is rejected."""
    try:
        record.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = record[error.start : error.end]
        return f"undecodable bytes ({encoding}): {bad!r} at byte {error.start + 1:,} of the record"
    return None


class Converter:
    """Re-quotes records for another delimiter and/or drops columns (the slow path)."""

    def __init__(
        self, in_delimiter: str, out_delimiter: str, keep: Sequence[int] | None, line_ending: str
    ) -> None:
        self.in_delimiter = in_delimiter
        self.out_delimiter = out_delimiter
        self.keep = list(keep) if keep is not None else None
        self.line_ending = line_ending

    def __call__(self, data: bytes) -> bytes:
        text = data.decode("utf-8")
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=self.in_delimiter, strict=False
        )
        out = io.StringIO()
        writer = csv.writer(out, delimiter=self.out_delimiter, lineterminator=self.line_ending)
        # The csv module leaves a lone CR unquoted when the line ending is LF: quote it ourselves.
        careful = csv.writer(
            out, delimiter=self.out_delimiter, lineterminator=self.line_ending,
            quoting=csv.QUOTE_ALL,
        )  # fmt: skip
        check_cr = "\r" in text
        keep = self.keep
        for row in reader:
            if not row:  # a blank line is still a record: keep the row count honest
                out.write(self.line_ending)
                continue
            values = row if keep is None else [row[i] for i in keep if i < len(row)]
            if check_cr and any("\r" in value for value in values):
                careful.writerow(values)
            else:
                writer.writerow(values)
        return out.getvalue().encode("utf-8")


ChunkWriter = Callable[[int, list[bytes | memoryview]], str]  # (index, pieces) -> uri


class Splitter:
    """Packs the records of one or more source parts into files under ``limit`` bytes."""

    def __init__(
        self,
        *,
        header: bytes,
        limit: int,
        write_chunk: ChunkWriter,
        rejects: RejectsWriter,
        on_chunk: Callable[[ChunkInfo], None],
        line_ending: bytes = b"\n",
        encoding: str = "utf-8",
        convert: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.header = header
        self.limit = limit
        self.target = limit - len(header)
        if self.target < 1:
            raise ValueError(f"the header alone ({len(header):,} bytes) exceeds the limit")
        self.grain = min(GRAIN, self.target)
        self.write_chunk = write_chunk
        self.rejects = rejects
        self.on_chunk = on_chunk
        self.line_ending = line_ending
        self.encoding = encoding
        self.convert = convert
        self.chunks: list[ChunkInfo] = []
        self._pending: list[memoryview] = []
        self._size = 0
        self._rows = 0
        self._first: tuple[str, int] | None = None
        self._last: tuple[str, int] = ("", 0)

    # -- stage 1: blocks of one part -> validated record-aligned pieces ------------

    def feed(self, stats: PartStats, blocks: Iterable[bytes], first_line: int) -> None:
        """Split one part (its data after the header), counting into ``stats``."""
        for _ in self.feed_iter(stats, blocks, first_line):
            pass

    def feed_iter(
        self, stats: PartStats, blocks: Iterable[bytes], first_line: int
    ) -> Iterator[None]:
        """``feed``, pausing after each block (so files written so far can be announced)."""
        carry = b""
        carry_parity = 0
        line = first_line
        overflow: _Overflow | None = None
        for block in blocks:
            stats.data_bytes += len(block)
            start = 0
            if overflow is not None:
                start, overflow = self._continue_overflow(overflow, block, stats)
                if overflow is not None:
                    yield None
                    continue
                line = self._overflow_line
            if carry:
                # Finish the record carried over from the last block on its own, so the
                # block itself is never copied.
                end, carry_parity = record_end(block, start, len(block), carry_parity)
                if end < 0:
                    carry += block[start:]
                    start = len(block)
                else:
                    record = carry + block[start:end]
                    carry = b""
                    _, line = self._pieces(record, stats, line, final=False)
                    start = end
            if start < len(block) and not carry:
                position, line = self._pieces(block, stats, line, final=False, start=start)
                carry = block[position:]
                carry_parity = record_end(carry, 0, len(carry))[1] if carry else 0
            if len(carry) > self.target:
                # A record longer than a file can hold: stream it to the rejects.
                overflow = self._start_overflow(stats, carry, line)
                carry = b""
            yield None
        if overflow is not None:
            self._end_overflow(overflow, stats, UNCLOSED_QUOTE if overflow.parity else None)
            return
        if carry:
            self._pieces(carry, stats, line, final=True)

    def _pieces(
        self, data: bytes, stats: PartStats, line: int, *, final: bool, start: int = 0
    ) -> tuple[int, int]:
        """Cut ``data[start:]`` into pieces; returns (where the rest starts, its line)."""
        position = start
        size = len(data)
        # Validate everything up to the last newline at once: when that is clean, so is
        # every piece of it (pieces end at newlines, which never split a character).
        clean_end = data.rfind(b"\n", start) + 1
        if clean_end <= start or not clean(data, start, clean_end):
            clean_end = start
        while position < size:
            cut, newlines, rows = last_boundary(data, position, min(size, position + self.grain))
            if cut == position:  # the record at ``position`` is longer than a grain
                cut, parity = record_end(data, position, size)
                if cut < 0:
                    if not final:
                        return position, line
                    record = data[position:]
                    if parity:
                        self._reject(stats, line, UNCLOSED_QUOTE, record)
                        return size, line
                    record += self.line_ending  # the last record has no line ending
                    cut = size
                    data = data[:position] + record
                    size = len(data)
                    cut = size
                _, newlines, rows = scan(data, position, cut)
                if cut - position > self.target:
                    self._reject(stats, line, self._size_reason(cut - position), data[position:cut])
                    line += newlines
                    position = cut
                    continue
            self._validated(data, position, cut, stats, line, newlines, rows, cut <= clean_end)
            line += newlines
            position = cut
        return position, line

    def _validated(
        self,
        data: bytes,
        start: int,
        end: int,
        stats: PartStats,
        line: int,
        newlines: int,
        rows: int,
        checked: bool,
    ) -> None:
        if checked or clean(data, start, end):
            stats.rows += rows
            self._pack(_Piece(data, start, end, stats.uri, line, newlines, rows), stats)
            return
        # Slow path: take the piece apart and reject only the bad records.
        piece = data[start:end]
        run_start = 0
        run_line = line
        for start, end in iter_records(piece):
            record = piece[start:end]
            reason = NUL_BYTE if b"\x00" in record else utf8_problem(record, self.encoding)
            if reason is None:
                continue
            if start > run_start:
                _, run_newlines, run_rows = scan(piece, run_start, start)
                stats.rows += run_rows
                self._pack(
                    _Piece(piece, run_start, start, stats.uri, run_line, run_newlines, run_rows),
                    stats,
                )
                run_line += run_newlines
            self._reject(stats, run_line, reason, record)
            run_line += record.count(b"\n")
            run_start = end
        if run_start < len(piece):
            _, run_newlines, run_rows = scan(piece, run_start, len(piece))
            stats.rows += run_rows
            self._pack(
                _Piece(piece, run_start, len(piece), stats.uri, run_line, run_newlines, run_rows),
                stats,
            )

    def _reject(self, stats: PartStats, line: int, reason: str, record: bytes) -> None:
        stats.rejects += 1
        self.rejects.add(stats.uri, line, reason, record)

    def _size_reason(self, size: int, note: str = "") -> str:
        return record_size_reason(size, len(self.header), self.limit, note)

    # -- oversized records, streamed ------------------------------------------------

    def _start_overflow(self, stats: PartStats, carry: bytes, line: int) -> _Overflow:
        _, parity = record_end(carry, 0, len(carry))
        overflow = _Overflow(line=line, size=len(carry), parity=parity, newlines=carry.count(b"\n"))
        self.rejects.begin_spool()
        self.rejects.spool(carry)
        return overflow

    def _continue_overflow(
        self, overflow: _Overflow, block: bytes, stats: PartStats
    ) -> tuple[int, _Overflow | None]:
        end, parity = record_end(block, 0, len(block), overflow.parity)
        part = block if end < 0 else block[:end]
        self.rejects.spool(part)
        overflow.size += len(part)
        overflow.newlines += part.count(b"\n")
        if end < 0:
            overflow.parity = parity
            return 0, overflow
        self._end_overflow(overflow, stats, None)
        return end, None

    def _end_overflow(self, overflow: _Overflow, stats: PartStats, reason: str | None) -> None:
        stats.rejects += 1
        self.rejects.end_spool(stats.uri, overflow.line, reason or self._size_reason(overflow.size))
        self._overflow_line = overflow.line + overflow.newlines

    # -- stage 2: pieces -> files ---------------------------------------------------

    def _pack(self, piece: _Piece, stats: PartStats) -> None:
        data, position, stop = piece.data, piece.start, piece.end
        if self.convert is not None:
            data = self.convert(data[position:stop])
            position, stop = 0, len(data)
        view = memoryview(data)  # files are written from views of the blocks: no copies
        line = piece.first_line
        newlines_left = piece.newlines
        rows_left = piece.rows
        while position < stop:
            room = self.target - self._size
            if stop - position <= room:
                self._append(view[position:stop], piece.source, line, newlines_left, rows_left)
                return
            cut, newlines, rows = last_boundary(data, position, position + room)
            if cut > position:
                self._append(view[position:cut], piece.source, line, newlines, rows)
                self.flush()
                line += newlines
                newlines_left -= newlines
                rows_left -= rows
                position = cut
                continue
            if self._size:
                self.flush()
                continue
            # One converted record longer than a file can hold.
            end, _ = record_end(data, position, stop)
            end = stop if end < 0 else end
            record = data[position:end]
            _, newlines, rows = scan(data, position, end)
            reason = self._size_reason(len(record), " after conversion")
            self.rejects.add(piece.source, line, reason, record)
            stats.rows -= rows
            stats.rejects += rows
            line += newlines
            newlines_left -= newlines
            rows_left -= rows
            position = end

    def _append(self, data: memoryview, source: str, line: int, newlines: int, rows: int) -> None:
        if self._first is None:
            self._first = (source, line)
        self._pending.append(data)
        self._size += len(data)
        self._rows += rows
        self._last = (source, line + max(newlines, 1) - 1)

    def flush(self) -> None:
        """Write the file being filled, if it holds anything."""
        if not self._pending or self._first is None:
            return
        index = len(self.chunks)
        uri = self.write_chunk(index, [self.header, *self._pending])
        info = ChunkInfo(
            index=index,
            uri=uri,
            bytes=len(self.header) + self._size,
            rows=self._rows,
            first_source=self._first[0],
            first_line=self._first[1],
            last_source=self._last[0],
            last_line=self._last[1],
        )
        self.chunks.append(info)
        self._pending = []
        self._size = 0
        self._rows = 0
        self._first = None
        self.on_chunk(info)

    _overflow_line = 0


@dataclass
class _Overflow:
    line: int
    size: int
    parity: int
    newlines: int
