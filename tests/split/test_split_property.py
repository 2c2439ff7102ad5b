"""Property: whatever the records and the limit, the files parse back into exactly the input."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workers.split.records
from tests.split.split_helpers import (
    EXAMPLES,
    FIELD,
    FORMAT_DELIMITERS,
    VALIDATION_PATHS,
    encode_rows,
    parse_rows,
    scanner,
)
from workers.split.records import utf8_valid, utf8_valid_reference
from workers.split.run import SplitOptions, SplitRun
from workers.storage import Storage


@st.composite
def datasets(draw: st.DrawFn) -> tuple[list[str], list[list[str]], str, str, int, str]:
    width = draw(st.integers(1, 4))
    header = [f"col{i}" for i in range(width)]
    records = draw(
        st.lists(st.lists(FIELD, min_size=width, max_size=width), min_size=1, max_size=40)
    )
    # A record of one empty field is written as "" by the csv module, so it stays a record.
    in_format = draw(st.sampled_from(list(FORMAT_DELIMITERS)))
    out_format = draw(st.sampled_from([in_format, in_format, "csv", "tsv", "ssv"]))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    # Upper bound of a record's size in any format (conversion may quote every field).
    longest = 2 * width + max(
        len(encode_rows([r], FORMAT_DELIMITERS[f], ending))
        for r in records
        for f in ("csv", "tsv", "ssv")
    )
    head = max(
        len(encode_rows([header], FORMAT_DELIMITERS[f], ending)) for f in ("csv", "tsv", "ssv")
    )
    limit = draw(st.integers(head + longest, head + longest + 300))
    return header, records, in_format, out_format, limit, ending


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=datasets(), chunk_gzip=st.booleans(), path=VALIDATION_PATHS, ahead=st.booleans())
def test_files_parse_back_into_the_input(
    tmp_path_factory: object,
    data: tuple[list[str], list[list[str]], str, str, int, str],
    chunk_gzip: bool,
    path: str,
    ahead: bool,
) -> None:
    import gzip
    import tempfile

    header, records, in_format, out_format, limit, ending = data
    with tempfile.TemporaryDirectory() as tmp, scanner(path):
        source = Path(tmp) / f"in.{in_format}"
        raw = encode_rows([header, *records], FORMAT_DELIMITERS[in_format], ending)
        source.write_bytes(gzip.compress(raw) if chunk_gzip else raw)
        run = SplitRun(
            str(source),
            str(Path(tmp) / "out"),
            storage=Storage(),
            options=SplitOptions(
                limit=limit, input_format=in_format, output_format=out_format, read_ahead=ahead
            ),
        )
        chunks = list(run)
        result = run.result
        assert result.rejects == 0
        assert result.rows == len(records)
        parsed: list[list[str]] = []
        out_delimiter = FORMAT_DELIMITERS[out_format]
        for chunk in chunks:
            content = Path(chunk.uri).read_bytes()
            assert len(content) == chunk.bytes <= limit
            rows = parse_rows(content, out_delimiter)
            assert rows[0] == header
            assert len(rows) - 1 == chunk.rows
            parsed.extend(rows[1:])
        assert parsed == records
        # Source lines: contiguous, starting after the header.
        assert chunks[0].first_line == 2
        for before, after in itertools.pairwise(chunks):
            assert after.first_line == before.last_line + 1
        assert chunks[-1].last_line == raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)


BAD_RECORDS = {
    "nul": b"bad\x00nul,x\n",
    "utf8": b"caf\xe9,x\n",
    "big": b"x" * 400 + b"\n",
}


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    data=datasets(),
    block=st.integers(1, 64),
    grain=st.integers(1, 50),
    bad=st.lists(st.tuples(st.sampled_from(sorted(BAD_RECORDS)), st.integers(0, 40)), max_size=4),
    unclosed=st.booleans(),
    path=VALIDATION_PATHS,
    ahead=st.booleans(),
)
def test_small_blocks_and_bad_records(
    data: tuple[list[str], list[list[str]], str, str, int, str],
    block: int,
    grain: int,
    bad: list[tuple[str, int]],
    unclosed: bool,
    path: str,
    ahead: bool,
) -> None:
    """Tiny read blocks and grains cross every boundary; bad records drop out, the rest stays."""
    import tempfile
    from unittest import mock

    header, records, in_format, _, limit, ending = data
    limit = min(limit, 399)  # the "big" record never fits
    delimiter = FORMAT_DELIMITERS[in_format]
    encoded = [encode_rows([r], delimiter, ending) for r in records]
    if any(len(e) + len(encode_rows([header], delimiter, ending)) > limit for e in encoded):
        limit = 399 if max(map(len, encoded)) < 300 else 1_000
    pieces = list(encoded)
    for name, where in sorted(bad, key=lambda b: -b[1]):
        pieces.insert(min(where, len(pieces)), BAD_RECORDS[name])
    tail = b'"never closed\n,x\n' if unclosed else b""
    raw = encode_rows([header], delimiter, ending) + b"".join(pieces) + tail
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch("workers.split.splitter.GRAIN", grain),
        scanner(path),
    ):
        source = Path(tmp) / f"in.{in_format}"
        source.write_bytes(raw)
        run = SplitRun(
            str(source),
            str(Path(tmp) / "out"),
            storage=Storage(),
            options=SplitOptions(
                limit=limit,
                input_format=in_format,
                reject_threshold=1.0,
                block_bytes=block,
                read_ahead=ahead,
            ),
        )
        chunks = list(run)
        parsed: list[list[str]] = []
        for chunk in chunks:
            content = Path(chunk.uri).read_bytes()
            assert len(content) <= limit
            rows = parse_rows(content, delimiter)
            assert rows[0] == header
            assert len(rows) - 1 == chunk.rows
            parsed.extend(rows[1:])
        assert parsed == records
        expected_rejects = len(bad) + (1 if unclosed else 0)
        assert run.result.rejects == expected_rejects
        assert run.result.rows == len(records)
        if expected_rejects:
            rejects = list(csv.reader(io.StringIO(
                (Path(tmp) / "out" / "rejects.csv").read_bytes().decode("utf-8", "replace"),
                newline="",
            )))  # fmt: skip
            assert len(rejects) == 1 + expected_rejects


# Valid characters of every length (the leads E0, ED, F0 and F4 need a look at the next byte),
# and fragments that break UTF-8: stray continuation bytes, cut sequences, overlong forms,
# surrogates, bytes that never occur.
GOOD_CHARS = [
    "a",
    "\n",
    '"',
    ",",
    "é",
    "ß",
    "Ł",
    "и",
    "—",
    "€",
    "美",
    "ễ",
    "\u0800",
    "\ud7ff",
    "😀",
]
BAD_FRAGMENTS = [
    b"\x80", b"\xbf", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc0\x80", b"\xc1\xbf",
    b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf5", b"\xff", b"\xc3\xc3",
]  # fmt: skip


@st.composite
def utf8_samples(draw: st.DrawFn) -> tuple[bytes, int, int]:
    parts = [c.encode() for c in draw(st.lists(st.sampled_from(GOOD_CHARS), max_size=300))]
    for fragment in draw(st.lists(st.sampled_from(BAD_FRAGMENTS), max_size=2)):
        parts.insert(draw(st.integers(0, len(parts))), fragment)
    data = b"".join(parts)
    start = draw(st.integers(0, len(data)))
    return data, start, draw(st.integers(start, len(data)))


@settings(max_examples=EXAMPLES * 4, deadline=None)
@given(sample=utf8_samples(), step=st.integers(1, 64))
def test_vectorized_utf8_check_agrees_with_decode(
    sample: tuple[bytes, int, int], step: int
) -> None:
    """The vectorized UTF-8 check gives the same answer as decoding, at any offsets and step."""
    from unittest import mock

    import numpy

    data, start, end = sample
    with (
        mock.patch.object(workers.split.records, "_np", numpy),
        mock.patch.object(workers.split.records, "VECTOR_MIN_BYTES", 0),
        mock.patch.object(workers.split.records, "_UTF8_STEP", step),
    ):
        assert utf8_valid(data, start, end) == utf8_valid_reference(data, start, end)
        # Without the lead bytes that make it decode instead, the vectorized test decides.
        plain = data.translate(None, b"\xc0\xc1\xe0\xed\xf0\xf1\xf2\xf3\xf4\xf5\xff")
        assert utf8_valid(plain) == utf8_valid_reference(plain)


def test_vectorized_utf8_check_on_big_blocks() -> None:
    """Across the internal steps of a large block, a single bad byte anywhere is found."""
    import random
    from unittest import mock

    import numpy

    rng = random.Random(5)
    text = "".join(rng.choice(["a", "é", "—", "美", ",", "\n"]) for _ in range(200_000)).encode()
    with mock.patch.object(workers.split.records, "_np", numpy):
        assert utf8_valid(text)
        for _ in range(30):
            at = rng.randrange(len(text))
            broken = text[:at] + b"\x80" + text[at:]
            assert utf8_valid(broken) == utf8_valid_reference(broken)
            cut = text[:at] + text[at + 1 :]
            assert utf8_valid(cut) == utf8_valid_reference(cut)
