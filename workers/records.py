"""Finding record boundaries in delimited text at byte speed (RFC 4180 quoting).

A newline ends a record when an even number of double quotes precede it in
the record: an odd count means it sits inside a quoted field (doubled quotes
``""`` add two, so they never change the parity). Everything here works on
big ``bytes`` slices with C-level primitives (``rfind``, ``count``,
``translate``, ``split``); Python-level loops only step over quotes near a
cut, never over every byte or every record.

All functions take ``data[start:end]`` with ``start`` at a record boundary.
"""

from __future__ import annotations

# translate() table deleting every byte except '"' and '\n'.
_ONLY_QUOTES_AND_NEWLINES = bytes(b for b in range(256) if b not in (0x22, 0x0A))


def scan(data: bytes, start: int = 0, end: int | None = None) -> tuple[int, int, int]:
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


def last_boundary(data: bytes, start: int, end: int) -> tuple[int, int, int]:
    """The end of the last whole record within ``data[start:end]``, its newlines and rows.

    Returns ``(cut, newlines, rows)`` for ``data[start:cut]``; ``cut == start``
    when no record ends in the range.
    """
    newline = data.rfind(b"\n", start, end)
    if newline < 0:
        return start, 0, 0
    parity, newlines, rows = scan(data, start, newline + 1)
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
    _, tail_newlines, tail_rows = scan(data, cut, newline + 1)
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


def iter_records(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` of every record in ``data[start:end]`` (slow path: one step per record)."""
    stop = len(data) if end is None else end
    spans: list[tuple[int, int]] = []
    position = start
    while position < stop:
        record_stop, _ = record_end(data, position, stop)
        if record_stop < 0:
            spans.append((position, stop))
            break
        spans.append((position, record_stop))
        position = record_stop
    return spans
