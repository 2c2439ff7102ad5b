"""The splitting core: record-aligned pieces in, files under the byte limit out.

Data arrives as UTF-8 blocks of one source part at a time. First, blank
lines are skipped (counted in ``PartStats.skipped``) and records Marketo would
read differently from us (a stray CR, a quote that cannot be where it is; see
``workers.split.records``) are rejected, one record each, so that quote parity is
sound in everything that remains. The rest is cut into record-aligned
*pieces* of about ``GRAIN`` bytes in the same scan (validating each: no NUL
byte, valid UTF-8; a piece that fails is taken apart record by
record and only the bad records are rejected), then packs pieces into files
of at most ``limit`` bytes including the header, cutting the last piece of a
file at the last record that fits. Pieces carry their row count, newline
count and first source line, so every file knows its rows and source lines, and
each record's own line goes into the file's line index
(``workers.split.line_index``).

A record that cannot fit in a file, or whose quoted field is still open at
the end of its part, is streamed to the rejects file. Pieces are views into
the blocks they came in (never copied), so memory stays at a few blocks, the
files waiting to be written and a record-length of carry however big the
input is.

Each file is handed to the sink (``write_chunk``) as soon as it is full and
announced through ``on_chunk``.

The module stays over 300 lines because the scan, the piece packing and the
carry across block boundaries share one state (``Splitter``) that only holds
together in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from workers.split.convert import Converter
from workers.split.line_index import LineIndexBuilder, PendingIndex, Spans, as_indexable
from workers.split.records import (
    Cut,
    clean,
    iter_records,
    last_boundary,
    line_spans,
    plan,
    plan_with_spans,
    problem_reason,
    record_end,
    scan,
)
from workers.split.records_python import BLANK
from workers.split.rejects import RejectsWriter

GRAIN = 256 * 1024
JOIN_BYTES = 64 * 1024  # first look past a block boundary for the end of a carried record


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
    newlines: int  # in the source (a converted piece may hold fewer)
    rows: int
    spans: Spans = None  # the source lines each record spans; None: one each


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


# (index, pieces, line index or None) -> uri
ChunkWriter = Callable[[int, list[bytes | memoryview], PendingIndex | None], str]


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
        convert: Converter | None = None,
        delimiter: bytes = b",",
        index_lines: bool = True,
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
        self.delimiter = delimiter
        self.chunks: list[ChunkInfo] = []
        self._pending: list[memoryview] = []
        self._size = 0
        self._rows = 0
        self._first: tuple[str, int] | None = None
        self._last: tuple[str, int] = ("", 0)
        self._lines = LineIndexBuilder() if index_lines else None

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
                start, carry, line = self._join(carry, block, start, stats, line)
            if start < len(block):
                position, line = self._run(block, start, stats, line, final=False)
                carry = block[position:]
            if len(carry) > self.target:
                # A record longer than a file can hold: stream it to the rejects.
                overflow = self._start_overflow(stats, carry, line)
                carry = b""
            yield None
        if overflow is not None:
            self._end_overflow(overflow, stats, UNCLOSED_QUOTE if overflow.parity else None)
            return
        if carry:
            self._run(carry, 0, stats, line, final=True)

    def _join(
        self, carry: bytes, block: bytes, start: int, stats: PartStats, line: int
    ) -> tuple[int, bytes, int]:
        """Finish the record carried over from the last block; returns (start, carry, line).

        The carry is scanned again together with a prefix of ``block`` (growing until
        a record ends in it), from its record start: no state is carried across the
        boundary, so where blocks happen to end never changes a result. The block
        itself is never copied whole unless one record spans it.
        """
        prefix = JOIN_BYTES
        while True:
            stop = min(len(block), start + prefix)
            joined = carry + block[start:stop]
            position, line = self._run(joined, 0, stats, line, final=False)
            if position >= len(carry):
                return start + position - len(carry), b"", line
            if stop == len(block):
                return len(block), joined[position:], line
            carry = carry[position:]
            prefix *= 4

    def _run(
        self, data: bytes, start: int, stats: PartStats, line: int, *, final: bool
    ) -> tuple[int, int]:
        """Take the records of ``data[start:]`` apart from blank and malformed ones.

        Returns (where the unfinished rest starts, its line). Without ``final`` only
        data up to the last LF is looked at, so every byte checked has the byte after
        it in view.
        """
        size = len(data)
        scan_end = size if final else data.rfind(b"\n", start) + 1
        position = start
        while position < scan_end:
            spans: bytes | None = None
            if self._lines is None:
                problem, cuts, checked = plan(data, position, scan_end, self.delimiter, self.grain)
            else:  # each record's lines too, in the same pass
                problem, cuts, checked, spans = plan_with_spans(
                    data, position, scan_end, self.delimiter, self.grain
                )
            stop = scan_end if problem is None else problem[1]
            if stop > position:
                last = final and problem is None
                position, line = self._pieces(data, stats, line, final=last, start=position,
                                              stop=stop, cuts=cuts, checked=checked,
                                              spans=spans)  # fmt: skip
            if problem is None:
                break
            kind, record_start, offset = problem
            newline = data.find(b"\n", offset, size)
            end = size if newline < 0 else newline + 1  # (found unless final)
            if kind == BLANK:
                stats.skipped += 1
            else:
                reason = problem_reason(kind, data, record_start, offset, self.delimiter)
                self._reject(stats, line, reason, data[record_start:end])
            line += data.count(b"\n", record_start, end)
            position = end
        return position, line

    def _pieces(
        self,
        data: bytes,
        stats: PartStats,
        line: int,
        *,
        final: bool,
        start: int,
        stop: int,
        cuts: list[Cut],
        checked: bool | None,
        spans: bytes | None = None,
    ) -> tuple[int, int]:
        """Validate and pack the pieces ``cuts`` of ``data[start:stop]``; returns (rest, line).

        The range holds no blank or malformed record (``_run`` took them out), so
        quote parity is sound in it. With ``final``, ``stop`` is the end of the data
        and what follows the last cut is the last record, without a line ending.
        ``checked``: whether the whole range is clean (None: not known yet).
        ``spans``: the lines each record of the cuts spans (varints), if known.
        """
        position = start
        by_record = as_indexable(spans)
        row = 0
        # Validate all pieces at once: when that is clean, so is every piece of it
        # (pieces end at newlines, which never split a character).
        clean_end = cuts[-1][0] if cuts else start
        if checked is None:
            checked = clean_end > start and clean(data, start, clean_end)
        if not checked:
            clean_end = start
        for cut, newlines, rows in cuts:
            if cut - position > self.target:
                self._reject(stats, line, self._size_reason(cut - position), data[position:cut])
            else:
                piece_spans = None
                if by_record is not None and newlines != rows:
                    piece_spans = by_record[row : row + rows]
                self._validated(data, position, cut, stats, line, newlines, rows,
                                cut <= clean_end, piece_spans)  # fmt: skip
            line += newlines
            position = cut
            row += rows
        if not final or position >= stop:
            return position, line
        record = data[position:stop]
        if record_end(record, 0, len(record))[1]:
            self._reject(stats, line, UNCLOSED_QUOTE, record)
        elif record == b"\r":  # a blank last line
            stats.skipped += 1
        else:
            record += self.line_ending
            _, newlines, rows = scan(record)
            if len(record) > self.target:
                self._reject(stats, line, self._size_reason(len(record)), record)
            else:
                self._validated(record, 0, len(record), stats, line, newlines, rows, False)
            line += newlines
        return stop, line

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
        spans: Spans = None,
    ) -> None:
        if checked or clean(data, start, end):
            self._emit(data, start, end, stats, line, newlines, rows, spans)
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
                self._emit(piece, run_start, start, stats, run_line, run_newlines, run_rows)
                run_line += run_newlines
            self._reject(stats, run_line, reason, record)
            run_line += record.count(b"\n")
            run_start = end
        if run_start < len(piece):
            _, run_newlines, run_rows = scan(piece, run_start, len(piece))
            self._emit(piece, run_start, len(piece), stats, run_line, run_newlines, run_rows)

    def _emit(
        self,
        data: bytes,
        start: int,
        end: int,
        stats: PartStats,
        line: int,
        newlines: int,
        rows: int,
        spans: Spans = None,
    ) -> None:
        """Pack valid records; converted first (rejecting wrong field counts) when asked.

        ``spans``: the lines each record spans, when not all one (found here if not given).
        """
        if spans is None and newlines != rows and self._lines is not None:
            spans = as_indexable(line_spans(data, start, end))
        if self.convert is None:
            stats.rows += rows
            self._pack(_Piece(data, start, end, stats.uri, line, newlines, rows, spans), stats)
            return
        piece = data[start:end]
        converted, bad = self.convert(piece)
        if not bad:
            stats.rows += rows
            self._pack(_Piece(converted, 0, len(converted), stats.uri, line, newlines, rows,
                              spans), stats)  # fmt: skip
            return
        run_start = 0
        run_line = line
        for bad_start, bad_end, reason in [*bad, (len(piece), len(piece), "")]:
            if bad_start > run_start:
                _, run_newlines, run_rows = scan(piece, run_start, bad_start)
                self._emit(piece, run_start, bad_start, stats, run_line, run_newlines, run_rows)
                run_line += run_newlines
            if reason:
                self._reject(stats, run_line, reason, piece[bad_start:bad_end])
                run_line += piece.count(b"\n", bad_start, bad_end)
            run_start = bad_end

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
        data, position, stop = piece.data, piece.start, piece.end  # (converted already)
        view = memoryview(data)  # files are written from views of the blocks: no copies
        line = piece.first_line
        newlines_left = piece.newlines
        rows_left = piece.rows
        spans = piece.spans
        taken = 0
        while position < stop:
            room = self.target - self._size
            if stop - position <= room:
                rest = None if spans is None else spans[taken:]
                self._append(view[position:stop], piece.source, line, newlines_left, rows_left,
                             rest)  # fmt: skip
                return
            cut, newlines, rows = last_boundary(data, position, position + room)
            taking = None if spans is None else spans[taken : taken + rows]
            if taking is not None and self.convert is not None:
                newlines = sum(taking)  # (the source's: a converted record may hold fewer)
            if cut > position:
                self._append(view[position:cut], piece.source, line, newlines, rows, taking)
                self.flush()
                line += newlines
                newlines_left -= newlines
                rows_left -= rows
                taken += rows
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
            if spans is not None:
                newlines = sum(spans[taken : taken + rows])
                taken += rows
            reason = self._size_reason(len(record), " after conversion")
            self.rejects.add(piece.source, line, reason, record)
            stats.rows -= rows
            stats.rejects += rows
            line += newlines
            newlines_left -= newlines
            rows_left -= rows
            position = end

    def _append(
        self,
        data: memoryview,
        source: str,
        line: int,
        newlines: int,
        rows: int,
        spans: Spans = None,
    ) -> None:
        """Add records to the file being filled; ``newlines``: theirs in the source,
        ``spans``: the lines each spans (None: one each)."""
        if self._first is None:
            self._first = (source, line)
        lines = self._lines
        if lines is not None:
            if spans is None:
                lines.add_one_line_records(source, line, rows)
            else:
                lines.add_spans(source, line, spans, newlines)
        self._pending.append(data)
        self._size += len(data)
        self._rows += rows
        self._last = (source, line + max(newlines, 1) - 1)

    def flush(self) -> None:
        """Write the file being filled, if it holds anything."""
        if not self._pending or self._first is None:
            return
        index = len(self.chunks)
        index_data = self._lines.finish() if self._lines is not None else None
        uri = self.write_chunk(index, [self.header, *self._pending], index_data)
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
