"""Finding record boundaries in delimited text at byte speed (RFC 4180 quoting).

A newline ends a record when an even number of double quotes precede it in
the record: an odd count means it sits inside a quoted field (doubled quotes
``""`` add two, so they never change the parity). Everything here works on
big ``bytes`` slices with C-level primitives (``rfind``, ``count``,
``translate``, ``split``); Python-level loops only step over quotes near a
cut, never over every byte or every record.

All functions take ``data[start:end]`` with ``start`` at a record boundary.

``scan``, ``last_boundary`` and ``clean`` use the C scanners of
``workers._textscan`` when that extension is built (one pass, GIL released,
several times faster) and the pure-Python versions below otherwise; both give
the same results (the property tests run both).
"""

from __future__ import annotations

from types import ModuleType

_c: ModuleType | None
try:
    from workers import _textscan

    _c = _textscan
except ImportError:  # not built (no compiler at install time): pure Python, same results
    _c = None

# translate() table deleting every byte except '"' and '\n'.
_ONLY_QUOTES_AND_NEWLINES = bytes(b for b in range(256) if b not in (0x22, 0x0A))


def scan(data: bytes, start: int = 0, end: int | None = None) -> tuple[int, int, int]:
    """(quote parity at ``end``, newlines, record-ending newlines) of ``data[start:end]``."""
    if _c is not None:
        result: tuple[int, int, int] = _c.scan(data, start, end)
        return result
    return scan_python(data, start, end)


def last_boundary(data: bytes, start: int, end: int) -> tuple[int, int, int]:
    """The end of the last whole record within ``data[start:end]``, its newlines and rows.

    Returns ``(cut, newlines, rows)`` for ``data[start:cut]``; ``cut == start``
    when no record ends in the range.
    """
    if _c is not None:
        result: tuple[int, int, int] = _c.last_boundary(data, start, end)
        return result
    return last_boundary_python(data, start, end)


def clean(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether ``data[start:end]`` holds no NUL byte and is valid UTF-8."""
    if _c is not None:
        return bool(_c.clean(data, start, end))
    return data.find(b"\x00", start, end) < 0 and utf8_valid(data, start, end)


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


# -- UTF-8 validation ------------------------------------------------------------------
#
# ``bytes.decode`` validates at about 0.7 GB/s on text with many non-ASCII characters
# (it builds the string). The vectorized check below only looks at byte classes:
# in valid UTF-8 a byte is a continuation byte (10xxxxxx) exactly when a lead byte
# of a long enough sequence precedes it (C0-DF one byte before, E0-EF two, F0-F7
# three). That structural test is exact once the few lead bytes that need a look at
# the next byte (C0, C1: always overlong; E0, ED: overlong or surrogate; F0 and up:
# four-byte sequences and invalid bytes) are absent; data holding one of those is
# checked by ``decode`` instead. Work goes in cache-sized steps.

_np: ModuleType | None = None
if _c is None:  # (the C scanner validates by itself: no numpy and its thread pool then)
    try:
        import numpy

        _np = numpy
    except ImportError:  # pragma: no cover - numpy is a dependency; the fallback stays exact
        _np = None

_UTF8_STEP = 256 * 1024
VECTOR_MIN_BYTES = 4096  # below this, decode is cheaper than the vectorized set-up
_NEEDS_DECODE = (b"\xc0", b"\xc1", b"\xe0", b"\xed")


def utf8_valid_reference(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether ``data[start:end]`` is valid UTF-8, by decoding it."""
    try:
        data[start:end].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def utf8_valid(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether ``data[start:end]`` is valid UTF-8 (exact; vectorized when numpy is there)."""
    stop = len(data) if end is None else end
    if stop <= start:
        return True
    if _np is None or stop - start < VECTOR_MIN_BYTES:
        return utf8_valid_reference(data, start, stop)
    for special in _NEEDS_DECODE:
        if data.find(special, start, stop) >= 0:
            return utf8_valid_reference(data, start, stop)
    x = _np.frombuffer(data, _np.uint8, stop - start, start)
    top = int(x.max())
    if top < 0x80:
        return True
    if top >= 0xF0:
        return utf8_valid_reference(data, start, stop)
    return _utf8_structure(x)


def _utf8_structure(x: object) -> bool:
    """Continuation bytes exactly where two- and three-byte sequences need them."""
    np = _np
    assert np is not None
    assert isinstance(x, np.ndarray)
    size = len(x)
    # A sequence must not run past the end, nor may the data start in the middle of one.
    if x[-1] >= 0xC0 or (size > 1 and x[-2] >= 0xE0) or 0x80 <= x[0] < 0xC0:
        return False
    width = min(size, _UTF8_STEP) + 2
    lead2 = np.empty(width, np.bool_)
    lead3 = np.empty(width, np.bool_)
    cont = np.empty(width, np.bool_)
    need = np.empty(width, np.bool_)
    masked = np.empty(width, np.uint8)
    if size > 1 and (x[1] & 0xC0 == 0x80) != (x[0] >= 0xC0):
        return False
    # Each step checks positions [low + 2, high) against the two bytes before them.
    low = 0
    while low + 2 < size:
        high = min(size, low + _UTF8_STEP + 2)
        window = x[low:high]
        n = high - low
        l2, l3, c, r, m = lead2[:n], lead3[:n], cont[:n], need[: n - 2], masked[:n]
        np.greater_equal(window, 0xC0, out=l2)
        np.greater_equal(window, 0xE0, out=l3)
        np.bitwise_and(window, 0xC0, out=m)
        np.equal(m, 0x80, out=c)
        np.bitwise_or(l2[1:-1], l3[:-2], out=r)
        np.not_equal(r, c[2:], out=r)
        if r.any():
            return False
        low = high - 2
    return True
