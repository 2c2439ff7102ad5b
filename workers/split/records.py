"""Finding record boundaries in delimited text at byte speed (RFC 4180 quoting).

A newline ends a record when an even number of double quotes precede it in
the record: an odd count means it sits inside a quoted field (doubled quotes
``""`` add two, so they never change the parity). Everything here works on
big ``bytes`` slices with C-level primitives (``rfind``, ``count``,
``translate``, ``split``); Python-level loops only step over quotes near a
cut, never over every byte or every record.

All functions take ``data[start:end]`` with ``start`` at a record boundary.

Before records are counted, ``first_problem`` finds the first record that must
not be passed on as it is (the rules, shared by the C and Python versions):

- a *blank line* (a record that is only LF or CR LF): Marketo skips it, so do we;
- a *CR outside quotes* not followed by LF (nor by the end of the data): Marketo
  reads it as a line break, so the record would count as two;
- a *quote opening mid-field*: a ``"`` outside quotes whose previous byte is not
  the delimiter, LF, a closing quote (``""`` is an escaped quote) or the record
  start, as in ``O"Brien``;
- *text after a closing quote*: a closing ``"`` followed by anything but the
  delimiter, LF, CR, ``"`` or the end of the data, as in ``"abc"def``.

After a quote problem parity is unknowable, so a bad record ends at the first LF
at or after the offending byte, ignoring quotes (the same for a stray CR), and
scanning resumes after it at a record start: one bad record is one reject, not
the rest of the file. Objects whose lines end in CR only are translated CR -> LF
as they are read (every CR, also inside quotes, is then a line break).

``scan``, ``last_boundary``, ``first_problem``, ``plan``, ``clean`` and ``line_spans``
use the C scanners of ``workers.split._textscan`` when that extension is built (one
pass, GIL released, several times faster) and the pure-Python versions of
``workers.split.records_python`` otherwise; both give the same results (the
property tests run both).
"""

from __future__ import annotations

import re
from types import ModuleType

from workers.split.records_python import (
    QUOTE_IN_FIELD,
    STRAY_CR,
    Problem,
    first_problem_python,
    last_boundary_python,
    line_spans_python,
    record_end,
    scan_python,
)

_c: ModuleType | None
try:
    import workers.split._textscan as _textscan

    _c = _textscan
except ImportError:  # not built (no compiler at install time): pure Python, same results
    _c = None


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


def line_spans(data: bytes | memoryview, start: int = 0, end: int | None = None) -> bytes:
    """The lines each record ending in ``data[start:end]`` spans, as varints (from a start)."""
    if _c is not None:
        result: bytes = _c.line_spans(data, start, end)
        return result
    return line_spans_python(bytes(data), start, end)


STRAY_CR_REASON = "carriage return (CR) outside quotes: Marketo would read it as a line break"
CR_TO_LF = bytes.maketrans(b"\r", b"\n")


def first_problem(data: bytes, start: int, end: int, delimiter: bytes) -> Problem | None:
    """The first blank or malformed record of ``data[start:end]`` (see above), or None.

    ``start`` is a record start and ``end`` counts as the end of the data: call it
    on ranges that end just after an LF, or at the real end.
    """
    if _c is not None:
        result: Problem | None = _c.first_problem(data, start, end, delimiter)
        return result
    return first_problem_python(data, start, end, delimiter)


Cut = tuple[int, int, int]  # (end of a piece, its newlines, its rows)


Plan = tuple[Problem | None, list[Cut], bool | None]


def plan(data: bytes, start: int, end: int, delimiter: bytes, grain: int) -> Plan:
    """``first_problem``, the pieces of ``data[start:stop]`` and ``clean``, in one pass.

    ``stop`` is the problem's record start, else the last record end. Each piece
    ends at the last record end within ``grain`` bytes of the previous one (or at
    the first end after it, for a longer record). The last item is
    ``clean(data, start, end)``, or None when there is a problem.
    """
    if _c is not None:
        result: Plan = _c.plan(data, start, end, delimiter, grain)
        return result
    return plan_python(data, start, end, delimiter, grain)


SpannedPlan = tuple[Problem | None, list[Cut], bool | None, bytes]


def plan_with_spans(data: bytes, start: int, end: int, delimiter: bytes, grain: int) -> SpannedPlan:
    """``plan``, and ``line_spans`` of its pieces (``data[start:last cut]``) in the same pass."""
    if _c is not None:
        result: SpannedPlan = _c.plan(data, start, end, delimiter, grain, True)
        return result
    problem, cuts, checked = plan_python(data, start, end, delimiter, grain)
    stop = cuts[-1][0] if cuts else start
    return problem, cuts, checked, line_spans_python(data, start, stop)


def plan_python(data: bytes, start: int, end: int, delimiter: bytes, grain: int) -> Plan:
    """``plan`` with ``first_problem_python``, ``last_boundary_python`` and ``clean``."""
    problem = first_problem_python(data, start, end, delimiter)
    stop = end if problem is None else problem[1]
    cuts: list[Cut] = []
    position = start
    while position < stop:
        cut, newlines, rows = last_boundary_python(data, position, min(stop, position + grain))
        if cut == position:  # a record longer than a grain
            cut, _ = record_end(data, position, stop)
            if cut < 0:
                break
            _, newlines, rows = scan_python(data, position, cut)
        cuts.append((cut, newlines, rows))
        position = cut
    if problem is not None:
        return problem, cuts, None
    return None, cuts, data.find(b"\x00", start, end) < 0 and utf8_valid(data, start, end)


def problem_reason(kind: int, data: bytes, record_start: int, offset: int, delimiter: bytes) -> str:
    """The rejects-file reason for a malformed record (not for a blank line)."""
    if kind == STRAY_CR:
        return STRAY_CR_REASON
    # Delimiters outside quotes before the offending quote: parity is sound up to there.
    outside = data[record_start:offset].split(b'"')[0::2]
    column = 1 + sum(part.count(delimiter) for part in outside)
    if kind == QUOTE_IN_FIELD:
        return f"quote inside an unquoted field (column {column})"
    return f"text after a closing quote (column {column})"


def header_end(data: bytes, final: bool) -> tuple[int, bytes] | None:
    """(end, line ending) of the header record at the start of ``data``; None: need more.

    The first CR or LF outside quotes decides the object's line ending: LF, CR LF
    or (a CR followed by anything else) CR alone.
    """
    position = 0
    while True:
        stop = _LINE_BREAK_OR_QUOTE.search(data, position)
        if stop is None:
            return None
        at = stop.start()
        if data[at] == 0x22:
            close = data.find(b'"', at + 1)
            if close < 0:
                return None
            position = close + 1
            continue
        if data[at] == 0x0A:
            return at + 1, b"\n"
        if at + 1 >= len(data):
            return (at + 1, b"\r") if final else None
        if data[at + 1] == 0x0A:
            return at + 2, b"\r\n"
        return at + 1, b"\r"


_LINE_BREAK_OR_QUOTE = re.compile(rb'["\r\n]')


def clean(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether ``data[start:end]`` holds no NUL byte and is valid UTF-8."""
    if _c is not None:
        return bool(_c.clean(data, start, end))
    return data.find(b"\x00", start, end) < 0 and utf8_valid(data, start, end)


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
