"""Property: hostile bytes (any line ending, blank lines, stray CRs, bad quotes) split exactly as
a plainly coded reference parser reads them, with every scanner.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.split.split_helpers import (
    EXAMPLES,
    FIELD,
    FORMAT_DELIMITERS,
    VALIDATION_PATHS,
    encode_rows,
    parse_rows,
    scanner,
)
from workers.errors import InputError
from workers.split.run import SplitOptions, SplitRun
from workers.storage import Storage

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
            lambda r: encode_rows([r], d, ending).decode()),
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
    width = len(parse_rows(raw.replace(b"\r", b"\n").split(b"\n")[0], delimiter)[0])
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
