"""A hostile dataset end to end: every row is read, counted and lands with its own values.

One prefix holds what old exports and hand-edited files look like: a part with
CR-only line endings, a lone CR inside an unquoted field, blank lines at the end,
an unquoted field with a stray quote, text after a closing quote and a record
with one field too many. Through real workers, Redis, S3 and the sandbox, the
load must account for every one of them and Marketo must hold exactly the good
rows, each value in its own field.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.pipeline_helpers import Pipeline, assert_rows_accounted, put_dataset, read_report
from tests.sandbox_helpers import admin
from tests.services import Service

HEADER = "email,firstName,lastName,internal_id"


def _good(start: int, count: int) -> list[str]:
    return [f"lead{n}@example.com,First{n},Last{n},{n}" for n in range(start, start + count)]


def _hostile_prefix(s3_client: Any, bucket: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """Three parts under one prefix; returns the prefix and the good rows by email.

    Enough good rows that the four bad ones stay under the 1% reject threshold.
    """
    part0 = [*_good(0, 10), "cr@example.com,Car\rriage,Ret,900", *_good(10, 200)]
    part0 += ["extra@example.com,Ex,Tra,901,surplus"]
    part1 = _good(210, 100)
    part2 = [*_good(310, 10), 'obrien@example.com,O"Brien,Smith,902', *_good(320, 10)]
    part2 += ['"quoted@example.com"x,Q,R,903', *_good(330, 170)]
    prefix = "in/hostile/"
    put_dataset(s3_client, bucket, prefix + "part-0.csv", "\n".join([HEADER, *part0]) + "\n\n\n\n")
    put_dataset(s3_client, bucket, prefix + "part-1.csv", "\r".join([HEADER, *part1]) + "\r")
    put_dataset(s3_client, bucket, prefix + "part-2.csv", "\n".join([HEADER, *part2]) + "\n")
    put_dataset(s3_client, bucket, prefix + "_temporary/0/part-9.csv", HEADER + "\nx@y.z,a,b,1\n")
    good = {f"lead{n}@example.com": (f"First{n}", f"Last{n}") for n in range(500)}
    return f"s3://{bucket}/{prefix}", good


def _rejects(s3_client: Any, uri: str) -> list[tuple[str, int, str]]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    text = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return [(row["source"].rsplit("/", 1)[-1], int(row["line"]), row["reason"]) for row in rows]


@pytest.mark.parametrize("drop_column", [False, True], ids=["as-is", "mapping-drops-a-column"])
def test_a_hostile_prefix_loses_no_row_and_shifts_no_value(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str, drop_column: bool
) -> None:
    source, good = _hostile_prefix(s3_client, bucket)
    pipeline.start_worker("a")
    payload: dict[str, Any] = {"source": source, "object": "leads", "lookupField": "email"}
    if drop_column:
        payload["mapping"] = {"internal_id": None}
    else:  # the sandbox's leads have no internal_id field: name it something they have
        payload["mapping"] = {"internal_id": "leadScore"}

    load = pipeline.wait_until_finished(pipeline.start_load(**payload))

    assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    totals = report["totals"]
    # 504 records with data + 3 blank lines; the _temporary/ part is not read.
    assert totals["rows_skipped"] == 3
    assert totals["rows_read"] == 504 + 3
    expected_rejects = [
        (
            "part-0.csv",
            12,
            "carriage return (CR) outside quotes: Marketo would read it as a line break",
        ),
        ("part-2.csv", 12, "quote inside an unquoted field (column 2)"),
        ("part-2.csv", 23, "text after a closing quote (column 1)"),
    ]
    if drop_column:
        expected_rejects.insert(1, ("part-0.csv", 213, "record has 5 fields, the header has 4"))
    assert totals["rows_rejected"] == len(expected_rejects)
    assert sorted(_rejects(s3_client, report["rejects_file"])) == sorted(expected_rejects)
    # Without conversion the record with a surplus field goes to Marketo whole, which fails it.
    assert totals["rows_failed"] == (0 if drop_column else 1)
    assert totals["rows_processed"] == 500

    assert admin(sandbox, "GET", "/_sandbox/records/leads")["count"] == len(good)
    for email, (first, last) in good.items():
        found = admin(sandbox, "GET", f"/_sandbox/records/leads?email={email}")["records"]
        assert [(r["firstName"], r["lastName"]) for r in found] == [(first, last)], email
