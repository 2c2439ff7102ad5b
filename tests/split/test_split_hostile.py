"""Hostile sources through the splitter on a real S3 endpoint: no row lost, shifted or miscounted.

Every output file is parsed as the Marketo sandbox parses an upload (Python's
csv module, strict, a lone CR is a line break, blank lines skipped), so what
the splitter counts is what Marketo would process.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from infra.sandbox.rows import parse_file
from tests.split.split_helpers import put, split
from workers.split.header_check import ColumnMapping
from workers.split.run import SplitResult
from workers.storage import Storage

pytestmark = pytest.mark.s3_endpoints

STRAY_CR = "carriage return (CR) outside quotes: Marketo would read it as a line break"


def marketo_rows(client: Any, result: SplitResult, fmt: str = "csv") -> list[list[str]]:
    """The records Marketo reads from the files, in order (each file's header checked)."""
    rows: list[list[str]] = []
    for chunk in result.files:
        bucket, key = chunk.uri[len("s3://") :].split("/", 1)
        parsed = parse_file(client.get_object(Bucket=bucket, Key=key)["Body"].read(), fmt)
        assert parsed.error == ""
        assert parsed.header == result.columns
        assert len(parsed.rows) == chunk.rows
        rows += parsed.rows
    return rows


def rejects_of(client: Any, result: SplitResult) -> list[list[str]]:
    assert result.rejects_uri is not None
    bucket, key = result.rejects_uri[len("s3://") :].split("/", 1)
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", "replace")
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows[0] == ["source", "line", "reason", "record"]
    return rows[1:]


def leads(n: int, start: int = 0) -> list[list[str]]:
    return [[f"p{i}@example.com", f"Zoë {i}", f"note {i}"] for i in range(start, start + n)]


def encode(rows: list[list[str]], ending: str = "\n") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator=ending).writerows(rows)
    return out.getvalue().encode()


HEADER = ["email", "firstName", "notes"]


def test_cr_only_parts_are_read_with_cr_as_line_break(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    """Old-Mac/Excel exports: each part under a prefix decides its own line ending."""
    put(s3_client, bucket, "mac/part-0.csv", encode([HEADER, *leads(20)]))
    # CR only, with a quoted field holding a CR: in a CR-only file every CR is a line break.
    cr_only = encode([HEADER, *leads(30, 20)], "\r") + b'q@example.com,Q,"two\rlines"\r'
    put(s3_client, bucket, "mac/part-1.csv", cr_only)
    put(s3_client, bucket, "mac/part-2.csv", encode([HEADER, *leads(10, 50)], "\r\n"))
    result = split(storage, f"s3://{bucket}/mac/", f"s3://{bucket}/out", limit=600).result
    assert [(s.rows, s.rejects, s.skipped) for s in result.sources] == [
        (20, 0, 0), (31, 0, 0), (10, 0, 0)
    ]  # fmt: skip
    expected = [*leads(50), ["q@example.com", "Q", "two\nlines"], *leads(10, 50)]
    assert marketo_rows(s3_client, result) == expected
    assert result.sources[1].data_bytes == len(cr_only)

    # A single CR-only object (today: "header only, no records").
    put(s3_client, bucket, "one.csv", encode([HEADER, *leads(5)], "\r"))
    single = split(storage, f"s3://{bucket}/one.csv", f"s3://{bucket}/out-one").result
    assert (single.rows, single.rejects, single.skipped) == (5, 0, 0)
    assert marketo_rows(s3_client, single) == leads(5)


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_stray_cr_outside_quotes_is_a_reject(
    s3_client: Any, bucket: str, storage: Storage, ending: str
) -> None:
    good = leads(22)
    body = (
        encode([HEADER, *good[:10]], ending)  # lines 1-11
        + f"cr@example.com,Carl\rRoss,note{ending}".encode()  # line 12: Marketo reads two rows
        + encode(good[10:], ending)  # lines 13-24
        + f'ok@example.com,Ok,"line one\r\nline two"{ending}'.encode()  # CR in quotes is fine
    )
    source = put(s3_client, bucket, "cr.csv", body)
    result = split(storage, source, f"s3://{bucket}/out", reject_threshold=0.1).result
    assert (result.rows, result.rejects, result.skipped) == (23, 1, 0)
    assert marketo_rows(s3_client, result) == [
        *good,
        ["ok@example.com", "Ok", "line one\r\nline two"],
    ]
    rejects = rejects_of(s3_client, result)
    assert [r[:3] for r in rejects] == [[source, "12", STRAY_CR]]
    # (the rejects file keeps the CR of a CR LF line ending)
    assert rejects[0][3].removesuffix("\r") == "cr@example.com,Carl\rRoss,note"


def test_blank_lines_are_skipped_and_counted(s3_client: Any, bucket: str, storage: Storage) -> None:
    body = (
        encode([HEADER, *leads(5)])
        + b"\n"  # line 7: blank
        + b",,\n"  # line 8: only delimiters, a record (Marketo fails it for its missing email)
        + b"\r\n"  # line 9: blank too
        + encode(leads(5, 5))
        + b"\n\n\n"  # three blank lines at the end
    )
    result = split(storage, put(s3_client, bucket, "blank.csv", body), f"s3://{bucket}/out").result
    assert (result.rows, result.rejects, result.skipped) == (11, 0, 5)
    assert result.rows + result.rejects + result.skipped == 16  # the records of the source
    assert marketo_rows(s3_client, result) == [*leads(5), ["", "", ""], *leads(5, 5)]
    assert result.files[-1].last_line == 14  # the last row; lines 15-17 are blank


def test_dropped_column_with_wrong_field_counts_rejects_instead_of_shifting(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    body = (
        b"email,firstName,internal,notes\n"
        b"a@x.com,Ann,1,first\n"  # line 2
        b'b@x.com,Bob,2,"has, comma",extra\n'  # line 3: 5 fields
        b"c@x.com,Cy,3\n"  # line 4: 3 fields
        b'd@x.com,Di,4,"two\nlines"\n'  # lines 5-6
        b'e@x.com,Ed,5,"x\n,y",z\n'  # lines 7-8: 5 fields over two lines
        b"f@x.com,Fay,6,last\n"  # line 9
    )
    source = put(s3_client, bucket, "drop.csv", body)
    mapping = ColumnMapping({"internal": None})
    result = split(
        storage, source, f"s3://{bucket}/out", mapping=mapping, reject_threshold=1.0
    ).result
    assert (result.rows, result.rejects, result.skipped) == (3, 3, 0)
    assert result.columns == ["email", "firstName", "notes"]
    assert marketo_rows(s3_client, result) == [
        ["a@x.com", "Ann", "first"], ["d@x.com", "Di", "two\nlines"], ["f@x.com", "Fay", "last"]
    ]  # fmt: skip
    assert rejects_of(s3_client, result) == [
        [source, "3", "record has 5 fields, the header has 4", 'b@x.com,Bob,2,"has, comma",extra'],
        [source, "4", "record has 3 fields, the header has 4", "c@x.com,Cy,3"],
        [source, "7", "record has 5 fields, the header has 4", 'e@x.com,Ed,5,"x\n,y",z'],
    ]
    assert result.files[0].last_line == 9


def test_a_stray_quote_costs_one_record_not_the_rest_of_the_file(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    good = [[f"p{i}@example.com", "Ann", f'say "hi" {i}, please'] for i in range(498)]
    body = (
        encode([HEADER, *good[:250]])  # lines 1-251
        + b'ob@example.com,Sean,O"Brien\n'  # line 252
        + encode(good[250:400])  # lines 253-402
        + b'ad@example.com,"abc"def,x\n'  # line 403: Marketo would fail the whole job
        + encode(good[400:])
    )
    source = put(s3_client, bucket, "quotes.csv", body)
    result = split(storage, source, f"s3://{bucket}/out", limit=20_000, block_bytes=4096).result
    assert (result.rows, result.rejects, result.skipped) == (498, 2, 0)
    assert marketo_rows(s3_client, result) == good
    assert rejects_of(s3_client, result) == [
        [source, "252", "quote inside an unquoted field (column 3)", 'ob@example.com,Sean,O"Brien'],
        [source, "403", "text after a closing quote (column 2)", 'ad@example.com,"abc"def,x'],
    ]
