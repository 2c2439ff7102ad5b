"""The line index beside each file names every record's source and line exactly.

Records span lines (quoted newlines), blank lines and rejected records sit between
kept ones, sources come in parts and in gzip, columns are converted: whatever the
blocks, grains and scanner, the index of each file lists, in order, the source
object and first line of each of its records.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.split.split_helpers import (
    EXAMPLES,
    FIELD,
    VALIDATION_PATHS,
    encode_rows,
    scanner,
)
from workers.split.line_index import (
    LineIndexBuilder,
    as_indexable,
    compress,
    index_name,
    index_uri,
    read_index,
)
from workers.split.manifest import MANIFEST_NAME
from workers.split.records_python import line_spans_python
from workers.split.run import SplitOptions, SplitRun
from workers.storage import Storage

BAD = {"nul": b"bad\x00nul,x\n", "stray-cr": b"a\rb,x\n", "blank": b"\n"}


@st.composite
def parts(draw: st.DrawFn) -> list[list[bytes | list[str]]]:
    """One to three source parts: each a list of records (fields) and bad lines (bytes)."""
    count = draw(st.integers(1, 3))
    found = []
    for _ in range(count):
        items: list[bytes | list[str]] = draw(
            st.lists(
                st.one_of(
                    st.lists(FIELD, min_size=2, max_size=2),
                    st.sampled_from(sorted(BAD)).map(BAD.__getitem__),
                ),
                max_size=25,
            )
        )
        found.append(items)
    return found


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    data=parts(),
    block=st.integers(1, 80),
    grain=st.integers(1, 60),
    limit=st.integers(120, 400),
    out_format=st.sampled_from(["csv", "tsv"]),
    packed=st.booleans(),
    ending=st.sampled_from(["\n", "\r\n"]),
    path=VALIDATION_PATHS,
)
def test_every_record_of_every_file_has_its_source_and_line(
    data: list[list[bytes | list[str]]],
    block: int,
    grain: int,
    limit: int,
    out_format: str,
    packed: bool,
    ending: str,
    path: str,
) -> None:
    header = encode_rows([["col0", "col1"]], ",", ending)
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch("workers.split.splitter.GRAIN", grain),
        scanner(path),
    ):
        folder = Path(tmp) / "in"
        folder.mkdir()
        expected: list[tuple[str, int]] = []
        rejected: list[tuple[str, int]] = []
        for number, items in enumerate(data):
            name = f"part-{number}.csv" + (".gz" if packed else "")
            uri = str(folder / name)
            body = header
            line = 2
            for item in items:
                if isinstance(item, list):
                    encoded = encode_rows([item], ",", ending)
                    expected.append((uri, line))
                else:
                    encoded = item.replace(b"\n", ending.encode())
                    if item != b"\n":
                        rejected.append((uri, line))
                body += encoded
                line += encoded.count(b"\n")
            (folder / name).write_bytes(gzip.compress(body) if packed else body)
        options = SplitOptions(limit=limit, input_format="csv", output_format=out_format,
                               reject_threshold=1.0, block_bytes=block)  # fmt: skip
        run = SplitRun(str(folder) + "/", str(Path(tmp) / "out"), storage=Storage(),
                       options=options)  # fmt: skip
        try:
            chunks = list(run)
        except Exception as error:  # only a source of nothing but blank or bad lines fails
            assert not expected, error
            return
        found: list[tuple[str, int]] = []
        for chunk in chunks:
            index = read_index(Path(index_uri(chunk.uri)).read_bytes())
            assert index.rows == chunk.rows
            assert (index.source_of(0), index.lines[0]) == (chunk.first_source, chunk.first_line)
            found.extend((index.source_of(i), line) for i, line in enumerate(index.lines))
        assert found == expected
        assert run.result.rejects == len(rejected)
        manifest = json.loads((Path(tmp) / "out" / MANIFEST_NAME).read_text())
        suffix = ".csv.gz" if packed else ".csv"
        assert manifest["sources"] == [str(folder / f"part-{n}{suffix}") for n in range(len(data))]
        assert manifest["files"] == len(chunks)


def test_an_index_of_plain_rows_costs_a_few_bytes_per_thousand_records() -> None:
    builder = LineIndexBuilder()
    builder.add_one_line_records("s3://etl/a.csv", 2, 90_000)
    stored = compress(builder.finish().encode())
    assert len(stored) < 500
    index = read_index(stored)
    assert index.lines == tuple(range(2, 90_002))


def test_records_of_many_lines_and_sources_round_trip() -> None:
    builder = LineIndexBuilder()
    records = b'a,"1\n2\n3"\nb,c\n' + b'"' + b"\n" * 200 + b'",d\n'
    spans = as_indexable(line_spans_python(records))
    assert spans == [3, 1, 201]
    builder.add_spans("s3://etl/a.csv", 7, spans, 3 + 1 + 201)
    builder.add_one_line_records("s3://etl/b.csv", 2, 2)
    builder.add_spans("s3://etl/b.csv", 9, [2, 300, 1], 303)
    builder.add_spans("s3://etl/b.csv", 400, b"\x02\x01", 3)
    index = read_index(compress(builder.finish().encode()))
    assert index.lines == (7, 10, 11, 2, 3, 9, 11, 311, 400, 402)
    assert [index.source_of(i) for i in (0, 2, 3, 7)] == [
        "s3://etl/a.csv",
        "s3://etl/a.csv",
        "s3://etl/b.csv",
        "s3://etl/b.csv",
    ]
    assert index_name("chunk-00003.csv") == "chunk-00003.lines.gz"


def test_a_damaged_index_is_refused() -> None:
    with pytest.raises(ValueError, match="not gzip"):
        read_index(b"garbage")
    with pytest.raises(ValueError, match="header says"):
        read_index(gzip.compress(b'{"version": 1, "rows": 5, "sources": [["a", 0]]}\n\x01'))
