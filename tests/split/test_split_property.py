"""Property: whatever the records and the limit, the files parse back into exactly the input."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workers.split.records
from workers.errors import InputError
from workers.split.records import utf8_valid, utf8_valid_reference
from workers.split.run import SplitOptions, SplitRun
from workers.storage import Storage

try:
    from workers.split import _textscan
except ImportError:  # not built: the Python scanners are all there is (and are tested)
    _textscan = None

FIELD = st.text(alphabet=st.sampled_from(list('ab,;\t"\n\r xé€😀Z')), min_size=0, max_size=12)
EXAMPLES = int(os.environ.get("SPLIT_EXAMPLES", "150"))
FORMAT_DELIMITERS = {"csv": ",", "tsv": "\t", "ssv": ";"}
# Every scanner: the C one for each instruction set usable here, and the pure-Python one
# (UTF-8 checked by the numpy test, or by decoding when numpy is missing).
C_SCANNERS = [f"c-{name}" for name in (_textscan.implementations() if _textscan else [])]
SCANNERS = [*C_SCANNERS, "python-vectorized", "python-decode"]
VALIDATION_PATHS = st.sampled_from(SCANNERS)


@contextlib.contextmanager
def scanner(path: str) -> Iterator[None]:
    """Run the splitter with one scanner (see ``SCANNERS``)."""
    from unittest import mock

    import numpy

    if path.startswith("c-"):
        assert _textscan is not None
        previous = _textscan.use(path[2:])
        try:
            with mock.patch.object(workers.split.records, "_c", _textscan):
                yield
        finally:
            _textscan.use(previous)
        return
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(workers.split.records, "_c", None))
        if path == "python-vectorized":  # even tiny inputs take the vectorized path
            stack.enter_context(mock.patch.object(workers.split.records, "_np", numpy))
            stack.enter_context(mock.patch.object(workers.split.records, "VECTOR_MIN_BYTES", 0))
        else:
            stack.enter_context(mock.patch.object(workers.split.records, "_np", None))
        yield


def _field(value: str, delimiter: str) -> str:
    if any(c in value for c in (delimiter, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def _encode(rows: list[list[str]], delimiter: str, ending: str) -> bytes:
    """RFC 4180, quoting every field that needs it (a lone CR too, unlike the csv module)."""
    lines = []
    for row in rows:
        line = delimiter.join(_field(v, delimiter) for v in row)
        lines.append('""' if line == "" else line)  # a lone empty field stays a record
    return "".join(line + ending for line in lines).encode("utf-8")


def _parse(data: bytes, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter))


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
        len(_encode([r], FORMAT_DELIMITERS[f], ending))
        for r in records
        for f in ("csv", "tsv", "ssv")
    )
    head = max(len(_encode([header], FORMAT_DELIMITERS[f], ending)) for f in ("csv", "tsv", "ssv"))
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
        raw = _encode([header, *records], FORMAT_DELIMITERS[in_format], ending)
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
            rows = _parse(content, out_delimiter)
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
    encoded = [_encode([r], delimiter, ending) for r in records]
    if any(len(e) + len(_encode([header], delimiter, ending)) > limit for e in encoded):
        limit = 399 if max(map(len, encoded)) < 300 else 1_000
    pieces = list(encoded)
    for name, where in sorted(bad, key=lambda b: -b[1]):
        pieces.insert(min(where, len(pieces)), BAD_RECORDS[name])
    tail = b'"never closed\n,x\n' if unclosed else b""
    raw = _encode([header], delimiter, ending) + b"".join(pieces) + tail
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
            rows = _parse(content, delimiter)
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


# -- hostile input: line endings, blank lines, stray CRs, malformed quotes ----------------

LF, CR, QUOTE = 0x0A, 0x0D, 0x22


def reference_records(raw: bytes, delimiter: str) -> list[tuple[str, bytes]]:
    """("row" | "blank" | "reject", bytes) of each record after the header, by the rules.

    Plainly coded, one byte at a time: the header's first line break decides the line
    ending (a CR not followed by LF: every CR is read as LF); a blank line is LF or
    CR LF alone (or a last CR); outside quotes a CR must be followed by LF, and a quote
    may only open after the delimiter, a closing quote or the record start; a closing
    quote must be followed by the delimiter, LF, CR, a quote or the end. A bad record
    ends at the first LF at or after its offending byte.
    """
    d = ord(delimiter)
    end_of_header = min(i for i in (raw.find(b"\n"), raw.find(b"\r")) if i >= 0)
    if raw[end_of_header] == CR and raw[end_of_header + 1 : end_of_header + 2] != b"\n":
        raw = raw.replace(b"\r", b"\n")
    body = raw[raw.index(b"\n") + 1 :]
    records: list[tuple[str, bytes]] = []
    i, n = 0, len(body)
    while i < n:
        start = i
        if body[i] == LF or body[i : i + 2] == b"\r\n" or body[i:] == b"\r":
            i += 1 if body[i] == LF or i + 1 == n else 2
            records.append(("blank", body[start:i]))
            continue
        inside = False
        bad = False
        while i < n:
            c = body[i]
            following = body[i + 1] if i + 1 < n else None
            previous = body[i - 1] if i > start else None
            if inside:
                if c == QUOTE:
                    if following in (None, d, LF, CR, QUOTE):
                        inside = False
                    else:
                        bad = True
                        break
            elif c == QUOTE:
                if previous in (None, d, QUOTE):
                    inside = True
                else:
                    bad = True
                    break
            elif c == CR and following not in (None, LF):
                bad = True
                break
            elif c == LF:
                break
            i += 1
        if bad:
            newline = body.find(b"\n", i)
            i = n if newline < 0 else newline + 1
            records.append(("reject", body[start:i]))
        elif i < n:  # at the LF that ends the record
            i += 1
            records.append(("row", body[start:i]))
        else:
            records.append(("reject" if inside else "row", body[start:i]))
    return records


def _values(record: bytes, delimiter: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(record.decode(), newline=""), delimiter=delimiter,
                           strict=True))  # fmt: skip
    assert len(rows) == 1, record
    return rows[0]


@st.composite
def hostile_datasets(draw: st.DrawFn) -> tuple[bytes, str, str]:
    width = draw(st.integers(1, 3))
    in_format = draw(st.sampled_from(list(FORMAT_DELIMITERS)))
    d = FORMAT_DELIMITERS[in_format]
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    hostile = [
        "\n", "\r\n", "\r", f'a"b{d}c\n', f'"ab"c{d}d\n', "a\rb\n", f'x{d * width}y\n',
        '"q""\n', f'"a""b"{d}"c"\r\n', f"{d * (width - 1)}\n", '"\r"\n', f'"x\ny"{d}z"\n',
    ]  # fmt: skip
    parts = [(d.join(f"col{i}" for i in range(width)) + ending).encode()]
    items = draw(st.lists(st.one_of(
        st.lists(FIELD, min_size=width, max_size=width).map(
            lambda r: _encode([r], d, ending).decode()),
        st.sampled_from(hostile),
    ), max_size=30))  # fmt: skip
    body = "".join(items).encode()
    if draw(st.booleans()):
        body = body.removesuffix(b"\n").removesuffix(b"\r")  # no line ending at the end
    out_format = draw(st.sampled_from([in_format, in_format, "csv", "tsv", "ssv"]))
    return parts[0] + body, in_format, out_format


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=hostile_datasets(),
    block=st.integers(1, 64),
    grain=st.integers(1, 50),
    path=VALIDATION_PATHS,
)
def test_hostile_input_matches_the_reference_parser(
    data: tuple[bytes, str, str], block: int, grain: int, path: str
) -> None:
    """rows + rejects + skipped = the reference's records; files hold exactly its good rows."""
    import tempfile
    from unittest import mock

    from infra.sandbox.rows import parse_file

    raw, in_format, out_format = data
    delimiter = FORMAT_DELIMITERS[in_format]
    width = len(_parse(raw.replace(b"\r", b"\n").split(b"\n")[0], delimiter)[0])
    expected = reference_records(raw, delimiter)
    good = [_values(record, delimiter) for kind, record in expected if kind == "row"]
    if out_format != in_format:  # the conversion path: wrong field counts are rejects too
        good = [values for values in good if len(values) == width]
    rejects = (
        sum(kind == "reject" for kind, _ in expected)
        + sum(kind == "row" for kind, _ in expected)
        - len(good)
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch("workers.split.splitter.GRAIN", grain),
        mock.patch("workers.split.splitter.JOIN_BYTES", max(1, grain // 3)),
        scanner(path),
    ):
        source = Path(tmp) / f"in.{in_format}"
        source.write_bytes(raw)
        run = SplitRun(str(source), str(Path(tmp) / "out"), storage=Storage(), options=SplitOptions(
            limit=1_000, input_format=in_format, output_format=out_format, reject_threshold=1.0,
            block_bytes=block,
        ))  # fmt: skip
        try:
            chunks = list(run)
        except InputError as error:  # nothing but blank lines (or nothing) after the header
            assert str(error).endswith("header only, no records")
            assert not good and not rejects
            return
        result = run.result
        assert (result.rows, result.rejects) == (len(good), rejects)
        assert result.skipped == sum(kind == "blank" for kind, _ in expected)
        parsed: list[list[str]] = []
        for chunk in chunks:
            marketo = parse_file(Path(chunk.uri).read_bytes(), out_format)
            assert marketo.error == ""
            assert len(marketo.rows) == chunk.rows
            parsed.extend(marketo.rows)
        assert parsed == good
