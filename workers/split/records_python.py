"""The pure-Python record scanners: the fallback of the C ones, and their reference.

``workers.split.records`` calls these when ``workers.split._textscan`` is not
built, and the property tests check that both give the same results; the
rules they apply are described in that module.
"""

from __future__ import annotations

import re

# The kinds of problem a record can have (see workers.split.records).
BLANK, STRAY_CR, QUOTE_IN_FIELD, TEXT_AFTER_QUOTE = 1, 2, 3, 4

Problem = tuple[int, int, int]  # (kind, start of its record, offset of the offending byte)


# translate() table deleting every byte except '"' and '\n'.
_ONLY_QUOTES_AND_NEWLINES = bytes(b for b in range(256) if b not in (0x22, 0x0A))


def scan_python(data: bytes, start: int = 0, end: int | None = None) -> tuple[int, int, int]:
    """(quote parity at ``end``, newlines, record-ending newlines) of ``data[start:end]``.

    The byte string is reduced to its quotes and newlines; adjacent quote
    pairs are removed (they cannot change any newline's parity), which
    leaves quotes only around newlines inside quoted fields, usually none.
    """
    compact = data[start:end].translate(None, _ONLY_QUOTES_AND_NEWLINES)
    newlines = compact.count(b"\n")
    if b'"' not in compact:
        return 0, newlines, newlines
    compact = compact.replace(b'""', b"")
    if b'"' not in compact:
        return 0, newlines, newlines
    parts = compact.split(b'"')
    inside = sum(map(len, parts[1::2]))  # only newlines are left between the quotes
    return (len(parts) - 1) & 1, newlines, newlines - inside


def last_boundary_python(data: bytes, start: int, end: int) -> tuple[int, int, int]:
    """``last_boundary`` with ``bytes`` methods: ``rfind``, then ``scan`` up to there."""
    newline = data.rfind(b"\n", start, end)
    if newline < 0:
        return start, 0, 0
    parity, newlines, rows = scan_python(data, start, newline + 1)
    if not parity:
        return newline + 1, newlines, rows
    # That newline is inside a quoted field: step back before the quote that opened it.
    cut_newline = newline
    while parity:
        quote = data.rfind(b'"', start, cut_newline)  # the quote after which parity is odd
        cut_newline = data.rfind(b"\n", start, quote)
        if cut_newline < 0:
            return start, 0, 0
        parity = data.count(b'"', cut_newline, quote) & 1
    cut = cut_newline + 1
    _, tail_newlines, tail_rows = scan_python(data, cut, newline + 1)
    return cut, newlines - tail_newlines, rows - tail_rows


def record_end(data: bytes, start: int, end: int, parity: int = 0) -> tuple[int, int]:
    """The end (past its newline) of the record starting at ``start``, or -1.

    ``parity`` is the quote parity at ``start`` (1 when continuing a record
    whose earlier bytes ended inside a quoted field). Returns ``(end, parity)``
    where, when no end is found, ``parity`` is the parity at ``end``.
    """
    position = start
    while True:
        if parity:
            quote = data.find(b'"', position, end)
            if quote < 0:
                return -1, 1
            position = quote + 1
            parity = 0
        newline = data.find(b"\n", position, end)
        quote = data.find(b'"', position, newline if newline >= 0 else end)
        if quote < 0:
            return (newline + 1, 0) if newline >= 0 else (-1, 0)
        position = quote + 1
        parity = 1


def varint(value: int) -> bytes:
    """``value`` as an unsigned LEB128 varint (seven bits a byte, low bits first)."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def line_spans_python(data: bytes, start: int = 0, end: int | None = None) -> bytes:
    """The lines each record ending in ``data[start:end]`` spans, as varints (one a record)."""
    stop = len(data) if end is None else end
    out = bytearray()
    position = start
    while position < stop:
        record_stop, _ = record_end(data, position, stop)
        if record_stop < 0:
            break
        lines = data.count(b"\n", position, record_stop)
        out += b"\x01" if lines == 1 else varint(lines)
        position = record_stop
    return bytes(out)


_QUOTED_BODY = re.compile(rb'(?:[^"]|"")*+')
_PATTERNS: dict[bytes, tuple[re.Pattern[bytes], re.Pattern[bytes]]] = {}


def _patterns(delimiter: bytes) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """(unquoted field, run of well-formed non-blank records) for one delimiter."""
    if delimiter not in _PATTERNS:
        d = re.escape(delimiter)
        unquoted = rb'[^"\r\n' + d + rb"]*+"
        field = rb'(?:"(?:[^"]|"")*+"|' + unquoted + rb")"
        good = rb"(?:(?!\r?\n)" + field + rb"(?:" + d + field + rb")*+\r?\n)*+"
        _PATTERNS[delimiter] = (re.compile(unquoted), re.compile(good))
    return _PATTERNS[delimiter]


def first_problem_python(data: bytes, start: int, end: int, delimiter: bytes) -> Problem | None:
    """``first_problem`` with regular expressions: runs of good records, then one record."""
    if data.find(b'"', start, end) < 0 and data.find(b"\r", start, end) < 0:
        # No quote and no CR (most exports): only a blank line can be wrong, and
        # bytes.find sees that at memchr speed, where the expressions take ~50 MB/s.
        if data.startswith(b"\n", start, end):
            return BLANK, start, start
        blank = data.find(b"\n\n", start, end)
        return None if blank < 0 else (BLANK, blank + 1, blank + 1)
    unquoted, good = _patterns(delimiter)
    position = start
    while True:
        position = good.match(data, position, end).end()  # type: ignore[union-attr]
        if position >= end:
            return None
        found = _one_record(data, position, end, delimiter[0], unquoted)
        if found is None:
            return None
        if isinstance(found, tuple):
            return found[0], position, found[1]
        position = found


def _one_record(
    data: bytes, start: int, end: int, delimiter: int, unquoted: re.Pattern[bytes]
) -> tuple[int, int] | int | None:
    """(kind, offset) of the problem of the record at ``start``, else its end (None: no end)."""
    if data.startswith(b"\n", start, end) or data.startswith(b"\r\n", start, end):
        return BLANK, start
    position = start
    while True:  # at the start of a field
        if position < end and data[position] == 0x22:
            quote = _QUOTED_BODY.match(data, position + 1, end).end()  # type: ignore[union-attr]
            if quote + 1 >= end:  # unclosed, or closed by the last byte
                return None
            after = data[quote + 1]
            if after == delimiter:
                position = quote + 2
                continue
            if after == 0x0A:
                return quote + 2
            if after != 0x0D:
                return TEXT_AFTER_QUOTE, quote
            position = quote + 1
        else:
            position = unquoted.match(data, position, end).end()  # type: ignore[union-attr]
            if position >= end:
                return None
            byte = data[position]
            if byte == 0x22:
                return QUOTE_IN_FIELD, position
            if byte == delimiter:
                position += 1
                continue
            if byte == 0x0A:
                return position + 1
        # A CR outside quotes: fine before LF or at the end.
        if position + 1 >= end:
            return None
        if data[position + 1] == 0x0A:
            return position + 2
        return STRAY_CR, position
