"""The stub importer: what tests of the steps can make Marketo say, and the steps run on it.

The first tests are pure (no services). The last ones drive submit, poll and
collect on real Redis and S3 with the stub in the runtime: no Marketo client
is ever built, so the steps reach Marketo only through the seam.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pytest

from tests.pipeline_helpers import RecordingDispatcher
from workers import defaults
from workers.errors import MarketoPermanentError, TooManyImports
from workers.importers import Job, ResultFile
from workers.importers.stub import ACCEPTED, RowOutcome, StubImporter
from workers.marketo import ImportState, Upload
from workers.objects.custom_objects import CustomObjectImport
from workers.objects.leads import LeadImport
from workers.pipeline import collect, poll, submit
from workers.pipeline.runtime import Runtime
from workers.settings import Settings
from workers.state.ledger import ChunkState, Ledger
from workers.storage import Storage

FILE = b"email,firstName\nann@example.com,Ann\n,NoEmail\nbad-address,Bad\n\ncy@example.com,Cy\n"


def verdict(row: Mapping[str, str]) -> RowOutcome:
    if not row["email"]:
        return RowOutcome(failure="no email")
    return RowOutcome(warning="odd email") if "@" not in row["email"] else ACCEPTED


def test_a_job_finishes_after_the_status_reads_asked_for() -> None:
    stub = StubImporter(reads_to_finish=3)
    first = stub.submit(LeadImport(), Upload.from_bytes(FILE))
    job = Job(first.job_id, 4)
    states = [stub.status(LeadImport(), job).state for _ in range(4)]
    assert first.state is ImportState.QUEUED
    assert states == [ImportState.IMPORTING, ImportState.IMPORTING, *[ImportState.COMPLETE] * 2]


def test_with_no_reads_the_submit_is_already_final_as_with_a_request_based_api() -> None:
    stub = StubImporter(reads_to_finish=0)
    first = stub.submit(LeadImport(), Upload.from_bytes(FILE))
    assert first.finished and first.records_processed == 4  # the blank line is no record
    assert stub.status(LeadImport(), Job(first.job_id, 4)) == first


def test_rows_are_judged_by_the_verdict_into_counts_and_files_with_a_reason_column() -> None:
    stub = StubImporter(reads_to_finish=0, verdict=verdict)
    job = Job(stub.submit(LeadImport(), Upload.from_bytes(FILE)).job_id, 4)
    final = stub.status(LeadImport(), job)
    assert (final.records_processed, final.rows_failed, final.rows_with_warning) == (3, 1, 1)
    failures, warnings = io.BytesIO(), io.BytesIO()
    written = stub.result_file(LeadImport(), job, ResultFile.FAILURES, failures)
    assert written == len(failures.getvalue())
    assert failures.getvalue() == b"email,firstName,Import Failure Reason\n,NoEmail,no email\n"
    stub.result_file(LeadImport(), job, ResultFile.WARNINGS, warnings)
    assert warnings.getvalue().splitlines() == [
        b"email,firstName,Import Warning Reason",
        b"bad-address,Bad,odd email",
    ]


def test_the_target_s_format_sets_the_delimiter() -> None:
    stub = StubImporter(reads_to_finish=0, verdict=verdict)
    tsv = b"email\tfirstName\n\tNoEmail\n"
    job = Job(
        stub.submit(CustomObjectImport("car_c", format="tsv"), Upload.from_bytes(tsv)).job_id, 1
    )
    out = io.BytesIO()
    stub.result_file(LeadImport(), job, ResultFile.FAILURES, out)
    assert out.getvalue() == b"email\tfirstName\tImport Failure Reason\n\tNoEmail\tno email\n"


def test_a_job_failure_ends_every_job_failed_with_no_counts_and_no_files() -> None:
    stub = StubImporter(verdict=verdict, job_failure="broken quoting")
    job = Job(stub.submit(LeadImport(), Upload.from_bytes(FILE)).job_id, 4)
    final = stub.status(LeadImport(), job)
    assert final.state is ImportState.FAILED and final.message == "Import failed: broken quoting"
    assert (final.records_processed, final.rows_failed, final.rows_with_warning) == (0, 0, 0)
    assert stub.result_file(LeadImport(), job, ResultFile.FAILURES, io.BytesIO()) is None


def test_no_files_before_the_job_is_finished_and_unknown_jobs_are_permanent_errors() -> None:
    stub = StubImporter(verdict=verdict)
    job = Job(stub.submit(LeadImport(), Upload.from_bytes(FILE)).job_id, 4)
    assert stub.result_file(LeadImport(), job, ResultFile.FAILURES, io.BytesIO()) is None
    with pytest.raises(MarketoPermanentError, match="1003"):
        stub.status(LeadImport(), Job("999", 1))


def test_a_queued_error_is_raised_by_the_next_call_only_and_makes_no_job() -> None:
    stub = StubImporter()
    stub.raise_next("submit", TooManyImports("1016", "Too many imports"))
    with pytest.raises(TooManyImports):
        stub.submit(LeadImport(), Upload.from_bytes(FILE))
    assert stub.jobs == {}
    assert stub.submit(LeadImport(), Upload.from_bytes(FILE)).job_id == "1"
    assert stub.calls == [("submit", ""), ("submit", "")]


def _runtime(redis_url: str, s3_client: Any, stub: StubImporter) -> Runtime:
    rt = Runtime(Settings(redis_url=redis_url), importers={defaults.IMPORT_API: stub})
    rt.__dict__["storage"] = Storage(client=s3_client)
    return rt


def _granted_chunk(rt: Runtime, bucket: str, s3_client: Any) -> str:
    key = "loads/L/chunks/chunk-00000.csv"
    s3_client.put_object(Bucket=bucket, Key=key, Body=FILE)
    rt.ledger.create_load("L", {"source": f"s3://{bucket}/in.csv", "object": "leads"},
                          fields={"staging": f"s3://{bucket}/loads/L"})  # fmt: skip
    rt.ledger.add_chunk("L", 0, {"rows": 4, "bytes": len(FILE), "uri": f"s3://{bucket}/{key}"})
    chunk_id = Ledger.chunk_id("L", 0)
    rt.admission.enqueue(chunk_id)
    assert rt.admission.grant() == [chunk_id]
    rt.ledger.move_chunk("L", 0, [ChunkState.WAITING], ChunkState.SUBMITTING)
    return chunk_id


def test_submit_poll_and_collect_run_on_the_stub_and_account_for_every_row(
    redis_url: str, s3_client: Any, bucket: str
) -> None:
    stub = StubImporter(verdict=verdict)
    rt = _runtime(redis_url, s3_client, stub)
    chunk_id = _granted_chunk(rt, bucket, s3_client)
    dispatch = RecordingDispatcher()

    assert submit.submit(rt, dispatch, "L", 0) == "submitted"
    chunk = rt.ledger.chunk("L", 0)
    assert (chunk.state, chunk.batch_id, chunk.status) == ("submitted", "1", "Queued")
    assert chunk.poll_token is not None
    assert poll.poll(rt, dispatch, "L", 0, chunk.poll_token) == "Complete"
    assert not rt.admission.holds(chunk_id)
    assert collect.collect(rt, dispatch, "L", 0) == "collected"

    chunk, load = rt.ledger.chunk("L", 0), rt.ledger.load("L")
    assert chunk.state == "done"
    assert (load.rows_processed, load.rows_failed, load.rows_warned) == (3, 1, 1)
    stored = s3_client.get_object(Bucket=bucket, Key="loads/L/failures/chunk-00000.csv")
    assert stored["Body"].read() == b"email,firstName,Import Failure Reason\n,NoEmail,no email\n"
    assert chunk.warnings_uri == f"s3://{bucket}/loads/L/warnings/chunk-00000.csv"
    assert stub.calls == [("submit", ""), ("status", "1"), ("result_file", "1"),
                          ("result_file", "1")]  # fmt: skip
    assert "marketo" not in rt.__dict__  # no Marketo client was needed


def test_a_full_import_queue_sends_the_chunk_back_in_line_with_a_hold(
    redis_url: str, s3_client: Any, bucket: str
) -> None:
    stub = StubImporter()
    stub.raise_next("submit", TooManyImports("1016", "Too many imports"))
    rt = _runtime(redis_url, s3_client, stub)
    _granted_chunk(rt, bucket, s3_client)
    dispatch = RecordingDispatcher()

    assert submit.submit(rt, dispatch, "L", 0) == "too-many-imports"

    assert rt.ledger.chunk("L", 0).state == "waiting"
    assert rt.ledger.load("L").too_many_imports == 1
    assert stub.jobs == {}
