"""Property: the C scanners give exactly what the Python ones give, on every instruction set."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.split.records import (
    first_problem_python,
    last_boundary_python,
    line_spans_python,
    plan_python,
    scan_python,
    utf8_valid_reference,
)

_textscan = pytest.importorskip("workers.split._textscan")

EXAMPLES = int(os.environ.get("SPLIT_EXAMPLES", "150"))
# Bytes that matter to a scanner: quotes, newlines, NUL, valid characters of every length
# (E0, ED, F0 and F4 leads need a look at the next byte), and fragments that break UTF-8.
FRAGMENTS = [
    b"a", b",", b'"', b'""', b"\n", b"\r\n", b"\x00", b"\xc3\xa9", b"\xe2\x80\x94",
    b"\xe7\xbe\x8e", b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xf0\x9f\x98\x80", b"\xf4\x8f\xbf\xbf",
    b"\x80", b"\xbf", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc0\x80", b"\xc1\xbf",
    b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf0\x80\x80\x80", b"\xf4\x90\x80\x80", b"\xf5", b"\xff",
    b"x" * 61, b"\xe7\xbe\x8e" * 21,
]  # fmt: skip


@st.composite
def samples(draw: st.DrawFn) -> tuple[bytes, int, int]:
    # Mostly one or two kinds of fragment, so long runs (whole 64-byte blocks) occur too.
    kinds = draw(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=4))
    data = b"".join(draw(st.lists(st.sampled_from(kinds), max_size=300)))
    start = draw(st.integers(0, len(data)))
    return data, start, draw(st.integers(start, len(data)))


def test_the_c_scanner_is_built_and_picks_the_fastest_instruction_set() -> None:
    names = _textscan.implementations()
    assert names[-1] == "portable"
    previous = _textscan.use(names[0])
    assert previous == names[0]  # chosen at import: the fastest usable here


@settings(max_examples=EXAMPLES * 4, deadline=None)
@given(sample=samples(), implementation=st.sampled_from(_textscan.implementations()))
def test_c_scanners_agree_with_the_python_ones(
    sample: tuple[bytes, int, int], implementation: str
) -> None:
    data, start, end = sample
    previous = _textscan.use(implementation)
    try:
        assert _textscan.scan(data, start, end) == scan_python(data, start, end)
        assert _textscan.last_boundary(data, start, end) == last_boundary_python(data, start, end)
        expected = data.find(b"\x00", start, end) < 0 and utf8_valid_reference(data, start, end)
        assert _textscan.clean(data, start, end) is expected
        # Any buffer will do, not only bytes.
        assert _textscan.scan(memoryview(data), start, end) == scan_python(data, start, end)
        assert _textscan.clean(bytearray(data), start, end) is expected
    finally:
        _textscan.use(previous)


# Bytes that matter to the problem scan: quotes, line breaks, CRs, every delimiter, and
# runs long enough to cross 64-byte blocks.
PROBLEM_FRAGMENTS = [
    b"a", b",", b";", b"\t", b'"', b'""', b"\n", b"\r", b"\r\n", b"\n\n", b'"a,b"', b"x" * 61,
    b'"' + b"y" * 70 + b'"', b"\xc3\xa9", b"\xe2\x80\x94" * 22, b"\x00", b"\xe2\x82",
    b"\xed\xa0\x80", b"\xf0\x9f\x98\x80",
]  # fmt: skip


@st.composite
def problem_samples(draw: st.DrawFn) -> tuple[bytes, int, int, bytes]:
    kinds = draw(st.lists(st.sampled_from(PROBLEM_FRAGMENTS), min_size=1, max_size=5))
    data = b"".join(draw(st.lists(st.sampled_from(kinds), max_size=200)))
    start = draw(st.integers(0, len(data)))
    end = draw(st.integers(start, len(data)))
    return data, start, end, draw(st.sampled_from([b",", b";", b"\t"]))


@settings(max_examples=EXAMPLES * 4, deadline=None)
@given(
    sample=problem_samples(),
    implementation=st.sampled_from(_textscan.implementations()),
    grain=st.sampled_from([1, 2, 7, 64, 100, 1_000]),
)
def test_c_problem_scanner_agrees_with_the_python_one(
    sample: tuple[bytes, int, int, bytes], implementation: str, grain: int
) -> None:
    """The first problem, and the pieces cut in the same pass (``plan``)."""
    data, start, end, delimiter = sample
    previous = _textscan.use(implementation)
    try:
        expected = first_problem_python(data, start, end, delimiter)
        assert _textscan.first_problem(data, start, end, delimiter) == expected
        assert _textscan.first_problem(memoryview(data), start, end, delimiter) == expected
        planned = plan_python(data, start, end, delimiter, grain)
        assert planned[0] == expected
        clean = data.find(b"\x00", start, end) < 0 and utf8_valid_reference(data, start, end)
        assert planned[2] == (None if expected else clean)
        assert _textscan.plan(data, start, end, delimiter, grain) == planned
        # With each record's line spans, found in the same pass (the line index's).
        stop = planned[1][-1][0] if planned[1] else start
        spans = line_spans_python(data, start, stop)
        assert _textscan.plan(data, start, end, delimiter, grain, True) == (*planned, spans)
        assert _textscan.line_spans(data, start, stop) == spans
    finally:
        _textscan.use(previous)


def test_the_problem_scanner_finds_each_kind() -> None:
    """Kind, record start and offending byte (a blank line: its start)."""
    cases = {
        b"a,b\n\nc\n": (1, 4, 4),
        b"a,b\n\r\nc\n": (1, 4, 4),
        b"a\rb,c\n": (2, 0, 1),
        b'x\nO"Brien,c\n': (3, 2, 3),
        b'x\n"abc"def,c\n': (4, 2, 6),
        b'"a""b",",\n"\r\n,,\n"\r"\n': None,  # escaped quotes, quoted line breaks, CR LF
    }
    for data, expected in cases.items():
        assert _textscan.first_problem(data, 0, len(data), b",") == expected, data
        assert first_problem_python(data, 0, len(data), b",") == expected, data


def test_an_unknown_instruction_set_is_refused() -> None:
    with pytest.raises(ValueError, match="no mmx scanner"):
        _textscan.use("mmx")
