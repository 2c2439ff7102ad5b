"""Finish's results file and retrying from it, driven directly (real Redis and S3 endpoint)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.pipeline.test_chunk_steps import runtime_for
from tests.pipeline_helpers import RecordingDispatcher
from tests.services import Service
from workers.cli.status import details
from workers.errors import InputError, LedgerError
from workers.load_status import summarize
from workers.pipeline import finish, retry
from workers.pipeline.outcomes import StepOutcome
from workers.results.rows import Outcome, ResultRow, encode_rows
from workers.state.ledger import ChunkState, LoadState
from workers.storage import Storage


def test_a_load_whose_results_file_cannot_be_made_still_ends_and_says_why(
    redis_url: str, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    """A chunk without its line index (split before the split wrote them)."""
    rt = runtime_for(redis_url, sandbox)
    rt.__dict__["storage"] = Storage(client=s3_client)
    staging = f"s3://{bucket}/loads/L"
    chunk_uri = f"{staging}/chunks/chunk-00000.csv"
    s3_client.put_object(Bucket=bucket, Key="loads/L/chunks/chunk-00000.csv",
                         Body=b"email\na@x.com\n")  # fmt: skip
    rt.ledger.create_load("L", {"source": "s3://etl/k.csv", "object": "leads"}, None,
                          {"staging": staging})  # fmt: skip
    rt.ledger.update_load("L", [LoadState.PENDING], LoadState.LOADING,
                          {"chunks_total": 1, "rows_read": 1, "rows_submitted": 1})  # fmt: skip
    rt.ledger.add_chunk("L", 0, {"uri": chunk_uri, "rows": 1, "bytes": 14})
    rt.ledger.move_chunk("L", 0, [ChunkState.WAITING], ChunkState.DONE,
                         {"processed": 1, "batch_id": "1"},
                         {"rows_processed": 1, "chunks_done": 1})  # fmt: skip
    with pytest.raises(InputError, match="is loading: retry it once it has ended"):
        retry.retry(rt, RecordingDispatcher(), "L")

    assert finish.finish(rt, RecordingDispatcher(), "L") == LoadState.SUCCEEDED

    load = rt.ledger.load("L")
    why = f"ResultsUnavailable: {staging}/chunks/chunk-00000.lines.gz: no such object"
    assert load.results_error == why and load.results_uri is None
    report = json.loads(rt.storage.read_bytes(load.report_uri or ""))
    assert (report["results_file"], report["results_error"]) == (None, why)
    assert f"results:   not written: {why}" in details(summarize(load, rt.ledger.chunks("L")))
    assert finish.finish(rt, RecordingDispatcher(), "L") == StepOutcome.NOT_LOADING
    with pytest.raises(InputError, match=f"has no results file to retry from: {why}"):
        retry.retry(rt, RecordingDispatcher(), "L")
    with pytest.raises(LedgerError, match="no load 'nope'"):
        retry.retry(rt, RecordingDispatcher(), "nope")
    assert s3_client.list_objects_v2(Bucket=bucket, Prefix="loads/L/retry/")["KeyCount"] == 0


def test_a_load_with_no_row_that_failed_has_nothing_to_retry(
    redis_url: str, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    rt = runtime_for(redis_url, sandbox)
    rt.__dict__["storage"] = Storage(client=s3_client)
    staging = f"s3://{bucket}/loads/L"
    results = f"{staging}/results/rows.csv.gz"
    rows = [
        ResultRow("s3://etl/k.csv", 2, "a@x.com", Outcome.PROCESSED, "", 0, 0),
        ResultRow("s3://etl/k.csv", 3, "b@x.com", Outcome.REJECTED, "NUL byte in record"),
        ResultRow("s3://etl/k.csv", 4, "c@x.com", Outcome.WARNED, "Invalid email address", 0, 1),
    ]
    rt.storage.put_stream(results, encode_rows(rows))
    rt.ledger.create_load("L", {"source": "s3://etl/k.csv", "object": "leads"}, None,
                          {"staging": staging})  # fmt: skip
    rt.ledger.update_load("L", [LoadState.PENDING], LoadState.SUCCEEDED_WITH_ROW_ERRORS,
                          {"results_uri": results})  # fmt: skip

    with pytest.raises(InputError, match="load L has no row that failed or was not sent"):
        retry.retry(rt, RecordingDispatcher(), "L")
    assert s3_client.list_objects_v2(Bucket=bucket, Prefix="loads/L/retry/")["KeyCount"] == 0
    assert rt.ledger.recent_loads() == ["L"], "no load started"
