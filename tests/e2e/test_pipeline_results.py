"""The results file: what became of every source row, at its exact line; top reasons; retry.

Real workers, Redis, S3 endpoint and sandbox. Rows are planted where the sandbox
fails or warns them (a lead score that is not a number, an empty lookup value, a
row with a field too many: failed; an email that is not an address: warned), the
split rejects them (a quote inside an unquoted field) or skips them (blank
lines), among records over several lines (quoted newlines), keys that repeat,
small chunks, and a source of two objects, one of them gzip.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.pipeline_helpers import Pipeline, assert_rows_accounted, put_dataset, read_report
from tests.sandbox_helpers import admin, records
from workers.api import load_status, retry_load
from workers.cli.status import details
from workers.results.build import write_results
from workers.state.ledger import Ledger
from workers.storage import Storage

HEADER = "email,firstName,lastName,leadScore\n"
BAD_SCORE = "Invalid data type in field Lead Score"
NO_EMAIL = "Missing value for lookup field 'email'"
BAD_EMAIL = "Invalid email address"
QUOTE = "quote inside an unquoted field (column 2)"


@dataclass
class Planted:
    """A source object being written, and what the results file must say of each row."""

    uri: str
    text: str = HEADER
    expected: list[tuple[str, int, str, str, str]] = field(default_factory=list)
    records: dict[int, str] = field(default_factory=dict)  # by first line, as written

    @property
    def line(self) -> int:  # the line the next record starts on
        return self.text.count("\n") + 1

    def row(self, record: str, key: str, outcome: str = "processed", reason: str = "") -> int:
        line = self.line
        self.expected.append((self.uri, line, key, outcome, reason))
        self.records[line] = record
        self.text += record
        return line

    def blank(self) -> None:
        self.text += "\n"


def _good(planted: Planted, n: int) -> None:
    email = f"lead{n}@example.com"
    planted.row(f'{email},First{n},"Last, {n}",{20 + n % 50}\n', email)


def _plant(part: Planted, start: int) -> None:
    """73 rows of every kind; with a 1 KB limit they spread over several chunks."""
    for n in range(start, start + 20):
        _good(part, n)
    part.row(f"bad{start}@example.com,Bad,Score,not-a-number\n", f"bad{start}@example.com",
             "failed", BAD_SCORE)  # fmt: skip
    part.blank()
    part.row(",No,Email,5\n", "", "failed", NO_EMAIL)
    part.row(f'"Multi\nLine {start}",x,"y\nz",30\n', f"Multi\nLine {start}", "warned", BAD_EMAIL)
    part.row(f'm{start}@example.com,"Two\nlines",Ok,31\n', f"m{start}@example.com")
    part.row(f'm{start}b@example.com,"Three\n\nlines",Bad,"4\n2"\n', f"m{start}b@example.com",
             "failed", BAD_SCORE)  # fmt: skip
    # One key, three rows in a chunk: only the second fails (cells tell them apart).
    dup = f"dup{start}@example.com"
    part.row(f"{dup},One,Dup,1\n", dup)
    part.row(f"{dup},Two,Dup,two\n", dup, "failed", BAD_SCORE)
    part.row(f"{dup},Three,Dup,3\n", dup)
    # The same row twice, failed twice: each line failed once.
    twin = f"twin{start}@example.com"
    part.row(f"{twin},Twin,Row,x\n", twin, "failed", BAD_SCORE)
    part.row(f"{twin},Twin,Row,x\n", twin, "failed", BAD_SCORE)
    part.row(f'q{start}@example.com,O"Brien,Quote,1\n', f"q{start}@example.com", "rejected", QUOTE)
    part.blank()
    part.blank()
    part.row(f"w{start}@example.com,Wide,Row,1,extra\n", f"w{start}@example.com", "failed",
             "Wrong number of fields: expected 4, found 5")  # fmt: skip
    part.row(f"not-an-email-{start},Warn,Row,7\n", f"not-an-email-{start}", "warned", BAD_EMAIL)
    for n in range(start + 20, start + 60):
        _good(part, n)


def _object(s3_client: Any, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bytes(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())


def results_rows(s3_client: Any, uri: str) -> list[dict[str, str]]:
    data = gzip.decompress(_object(s3_client, uri))
    return list(csv.DictReader(io.StringIO(data.decode(), newline="")))


def _shown(rows: list[dict[str, str]]) -> list[tuple[str, int, str, str, str]]:
    return [(r["source"], int(r["line"]), r["key"], r["outcome"], r["reason"]) for r in rows]


@pytest.fixture
def pipeline(pipeline_with: Callable[..., Pipeline]) -> Pipeline:
    # Small chunks (many per source object); a Failed job is not tried again (not sent).
    return pipeline_with(CHUNK_BYTE_LIMIT="1024", JOB_MAX_ATTEMPTS="1", REJECT_THRESHOLD="0.05")


def test_the_results_file_says_what_became_of_every_row_at_its_line(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    first = Planted(f"s3://{bucket}/in/results/part-0.csv")
    second = Planted(f"s3://{bucket}/in/results/part-1.csv.gz")
    _plant(first, 0)
    _plant(second, 100)
    put_dataset(s3_client, bucket, "in/results/part-0.csv", first.text)
    put_dataset(s3_client, bucket, "in/results/part-1.csv.gz", gzip.compress(second.text.encode()))
    pipeline.start_worker("a")

    load_id = pipeline.start_load(source=f"s3://{bucket}/in/results/", object="leads")
    load = pipeline.wait_until_finished(load_id)

    assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    assert report["totals"]["chunks"] >= 4, "rows of every kind spread over several chunks"
    assert report["results_file"] == f"s3://{bucket}/loads/{load_id}/results/rows.csv.gz"
    rows = results_rows(s3_client, report["results_file"])
    assert _shown(rows) == first.expected + second.expected
    # Where each row sits in the chunk files, for a retry.
    assert {r["outcome"]: bool(r["chunk"]) for r in rows} == {
        "processed": True, "failed": True, "warned": True, "rejected": False,
    }  # fmt: skip
    outcomes = Counter(r["outcome"] for r in rows)
    expected_outcomes = {"processed": 126, "warned": 4, "failed": 14, "rejected": 2, "not_sent": 0}
    assert report["results"]["outcomes"] == expected_outcomes
    assert outcomes == {k: v for k, v in expected_outcomes.items() if v}
    assert report["results"]["problems"] == [] and report["results"]["key_fields"] == ["email"]
    totals = report["totals"]
    assert (
        outcomes["failed"] == totals["rows_failed"] and outcomes["warned"] == totals["rows_warned"]
    )
    assert report["top_failure_reasons"] == [
        {"reason": BAD_SCORE, "rows": 10},
        {"reason": NO_EMAIL, "rows": 2},
        {"reason": "Wrong number of fields: expected 4, found 5", "rows": 2},
    ]
    assert report["top_warning_reasons"] == [{"reason": BAD_EMAIL, "rows": 4}]

    # Finish may run twice: the file is made again the same, byte for byte.
    ledger = Ledger(pipeline.redis)
    stored = _object(s3_client, report["results_file"])
    write_results(Storage(client=s3_client), ledger.load(load_id), ledger.chunks(load_id))
    assert _object(s3_client, report["results_file"]) == stored

    status = load_status(load_id, redis_url=pipeline.redis_url)
    shown = "\n".join(details(status))
    assert f"results:   {report['results_file']}" in shown
    assert f"top failure reasons:\n           {BAD_SCORE}: 10 rows\n" in shown
    assert f"top warning reasons:\n           {BAD_EMAIL}: 4 rows" in shown
    assert status.as_dict()["top_failure_reasons"][1] == {"reason": NO_EMAIL, "rows": 2}


def test_retry_loads_exactly_the_rows_that_failed_or_were_not_sent(
    pipeline: Pipeline, sandbox: Any, s3_client: Any, bucket: str
) -> None:
    part = Planted(f"s3://{bucket}/in/retry.csv")
    _plant(part, 0)
    source = put_dataset(s3_client, bucket, "in/retry.csv", part.text)
    # The first import job fails as a whole: its chunk's rows are never imported.
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "job_failed", "count": 1})
    pipeline.start_worker("a", concurrency=1)
    load_id = pipeline.start_load(source=source, object="leads", lookupField="email")
    load = pipeline.wait_until_finished(load_id)
    report = read_report(s3_client, load["report_uri"])
    [failed_chunk] = [c for c in report["chunks"] if c["state"] == "failed"]
    rows = results_rows(s3_client, report["results_file"])
    not_sent = [r for r in rows if r["outcome"] == "not_sent"]
    assert [int(r["chunk"]) for r in not_sent] == [failed_chunk["chunk"]] * failed_chunk["rows"]
    assert {r["reason"] for r in not_sent} == {failed_chunk["message"]}
    retried = [r for r in rows if r["outcome"] in ("failed", "not_sent")]
    assert any(r["outcome"] == "failed" for r in retried), "rows of both kinds are retried"

    retry_id = retry_load(load_id, redis_url=pipeline.redis_url, timeout=120)
    again = retry_load(load_id, redis_url=pipeline.redis_url, timeout=120)
    retry = pipeline.wait_until_finished(retry_id)

    assert again == retry_id, "retrying the same load again starts nothing new"
    retry_report = read_report(s3_client, retry["report_uri"])
    retry_source = f"s3://{bucket}/loads/{load_id}/retry/rows.csv"
    assert (retry_report["source"], retry_report["retry_of"]) == (retry_source, load_id)
    assert read_report(s3_client, load["report_uri"])["retried_by"] == retry_id
    assert {k: v for k, v in retry_report["parameters"].items() if k != "source"} == {
        "object": "leads", "lookupField": "email", "format": "csv", "inputFormat": "csv",
        "mapping": {}, "idempotencyKey": f"retry-of:{load_id}",
    }  # fmt: skip
    # Its source: the header, then exactly those rows' records as they were; its own
    # results file: each row at its line there, with what the sandbox makes of it now.
    records_at = part.records
    planted = {line: (outcome, reason) for _, line, _, outcome, reason in part.expected}
    expected_file = HEADER
    expected_rows = []
    for row in retried:
        line = int(row["line"])
        expected_rows.append((retry_source, expected_file.count("\n") + 1, row["key"],
                              *planted[line]))  # fmt: skip
        expected_file += records_at[line]
    bucket_name, key = retry_source.removeprefix("s3://").split("/", 1)
    body = s3_client.get_object(Bucket=bucket_name, Key=key)["Body"].read().decode()
    assert body == expected_file
    assert _shown(results_rows(s3_client, retry_report["results_file"])) == expected_rows
    assert retry["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
    imported = [r["key"] for r in not_sent if planted[int(r["line"])][0] != "failed"]
    assert imported and all(records(sandbox, "leads", email=k) for k in imported[:3] if "@" in k)
    shown = "\n".join(details(load_status(load_id, redis_url=pipeline.redis_url)))
    assert f"retried by: {retry_id}" in shown
    retry_shown = "\n".join(details(load_status(retry_id, redis_url=pipeline.redis_url)))
    assert f"retry of:  {load_id}" in retry_shown


def test_rows_sent_through_the_data_ingestion_api_and_rows_of_a_source_that_failed(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    """The ingestion importer's failures file is matched as Marketo's is; when a source
    fails (too many rejects), its rows written to files never sent are ``not_sent``."""
    sent = Planted(f"s3://{bucket}/in/ingest.csv")
    for n in range(12):
        _good(sent, n)
    sent.row("typo@example.com,Bad,Score,not-a-number\n", "typo@example.com", "failed",
             'field leadScore: "not-a-number" is not an integer')  # fmt: skip
    sent.row('m@example.com,"Two\nlines",x,1\n', "m@example.com")
    sent.row("typo@example.com,Bad,Score,not-a-number\n", "typo@example.com", "failed",
             'field leadScore: "not-a-number" is not an integer')  # fmt: skip
    for n in range(12, 40):
        _good(sent, n)
    put_dataset(s3_client, bucket, "in/ingest.csv", sent.text)
    bad = Planted(f"s3://{bucket}/in/bad.csv")
    for n in range(3):  # 3 of 23 rejected: over REJECT_THRESHOLD, before any file is sent
        bad.row(f'q{n}@example.com,O"Brien,Quote,1\n', f"q{n}@example.com", "rejected", QUOTE)
    put_dataset(s3_client, bucket, "in/bad.csv", bad.text + "".join(
        f"lead{n}@example.com,First{n},Last{n},{n}\n" for n in range(20)))  # fmt: skip
    pipeline.start_worker("a")

    ingested = pipeline.start_load(source=sent.uri, object="leads", api="ingestion")
    failed = pipeline.start_load(source=bad.uri, object="leads")
    ingested_load = pipeline.wait_until_finished(ingested)
    failed_load = pipeline.wait_until_finished(failed)

    assert ingested_load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
    report = read_report(s3_client, ingested_load["report_uri"])
    assert _shown(results_rows(s3_client, report["results_file"])) == sent.expected
    assert report["top_failure_reasons"] == [
        {"reason": 'field leadScore: "not-a-number" is not an integer', "rows": 2}
    ]
    assert failed_load["state"] == "failed"
    report = read_report(s3_client, failed_load["report_uri"])
    why = f"not submitted: the source failed: {report['error']}"
    not_sent = [(bad.uri, 5 + n, f"lead{n}@example.com", "not_sent", why) for n in range(20)]
    assert _shown(results_rows(s3_client, report["results_file"])) == bad.expected + not_sent
    assert report["results"]["outcomes"]["not_sent"] == report["totals"]["rows_not_submitted"]
