"""Cancel and resume driven step by step (real Redis, S3 endpoint and sandbox)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from tests.pipeline_helpers import (
    RecordingDispatcher,
    assert_rows_accounted,
    lead_rows,
    read_report,
)
from tests.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Service, wait_for
from workers.pipeline import collect, control, finish, poll, reconcile, split, start, submit
from workers.pipeline.outcomes import StepOutcome
from workers.pipeline.runtime import Runtime
from workers.settings import Settings
from workers.state import keys
from workers.state.control import LoadControl
from workers.state.ledger import ChunkState, LoadState
from workers.storage import Storage

HEADER = "email,firstName,lastName,leadScore\n"
ROWS_PER_CHUNK = 76  # rows of leads 100000 to 999999 are 53 bytes: 76 fill a 4,096-byte chunk
CHUNKS = 10


class Killed(BaseException):
    """What a SIGKILL does to a step: it stops there, nothing of it runs on."""


@pytest.fixture
def rt(redis_url: str, sandbox: Service, s3_client: Any, bucket: str) -> Runtime:
    settings = Settings(
        redis_url=redis_url,
        marketo_rest_url=sandbox.url,  # type: ignore[arg-type]
        marketo_client_id=SANDBOX_CLIENT_ID,
        marketo_client_secret=SecretStr(SANDBOX_CLIENT_SECRET),
        staging_uri=f"s3://{bucket}/loads",
        chunk_byte_limit=4096,
        max_outstanding_jobs=1,  # one chunk granted at a time: the others wait in line
    )
    runtime = Runtime(settings)
    runtime.__dict__["storage"] = Storage(client=s3_client)
    return runtime


def _start(rt: Runtime, s3_client: Any, bucket: str) -> str:
    body = HEADER + "".join(lead_rows(CHUNKS * ROWS_PER_CHUNK, start=100_000))
    s3_client.put_object(Bucket=bucket, Key="in/leads.csv", Body=body.encode())
    payload = {"source": f"s3://{bucket}/in/leads.csv", "object": "leads"}
    return str(start.start_load(rt, RecordingDispatcher(), payload, "L")["load_id"])


def _after_chunk(rt: Runtime, index: int, then: Any) -> None:
    """Run ``then`` as soon as the split has recorded chunk ``index``."""
    add_chunk = rt.ledger.add_chunk

    def recorded(load_id: str, at: int, fields: Any) -> bool:
        added = add_chunk(load_id, at, fields)
        if at == index:
            then()
        return added

    vars(rt.ledger)["add_chunk"] = recorded  # this ledger's own, until the test removes it


def _run_job(rt: Runtime, index: int) -> None:
    """Submit, poll and collect one granted chunk against the sandbox."""
    dispatch = RecordingDispatcher()
    assert submit.submit(rt, dispatch, "L", index) == StepOutcome.SUBMITTED

    def polled_to_the_end() -> bool:
        poll.poll(rt, dispatch, "L", index, rt.ledger.chunk("L", index).poll_token or "")
        return rt.ledger.chunk("L", index).state == ChunkState.COLLECTING

    wait_for(polled_to_the_end, timeout=30, interval=0.2, what=f"chunk {index}'s job to end")
    assert collect.collect(rt, dispatch, "L", index) == StepOutcome.COLLECTED


def test_a_cancel_stops_the_split_at_the_next_chunk_and_the_report_says_what_was_not_sent(
    rt: Runtime, s3_client: Any, bucket: str
) -> None:
    load_id = _start(rt, s3_client, bucket)
    _after_chunk(rt, 2, lambda: LoadControl(rt.redis).request_cancel(load_id))
    dispatch = RecordingDispatcher()

    assert split.split(rt, dispatch, load_id) == StepOutcome.SPLIT_STOPPED

    assert rt.ledger.chunk_indexes(load_id) == [0, 1, 2], "nothing after the next boundary"
    states = [c.state for c in rt.ledger.chunks(load_id)]
    assert states == [ChunkState.SUBMITTING, ChunkState.CANCELLED, ChunkState.CANCELLED]
    load = rt.ledger.load(load_id)
    assert load.state == LoadState.CANCELLING and load.split_stopped
    assert load.chunks_total == 3 and load.rows_submitted == 3 * ROWS_PER_CHUNK
    assert load.rows_cancelled == 2 * ROWS_PER_CHUNK
    assert load.rows_read == load.rows_submitted + load.rows_not_submitted
    assert load.rows_not_submitted >= ROWS_PER_CHUNK, "the file at the boundary is not sent"
    assert finish.finish(rt, dispatch, load_id) == StepOutcome.IN_PROGRESS, "chunk 0 runs on"

    _run_job(rt, 0)  # granted before the cancel: submitted, and counted as sent

    assert finish.finish(rt, dispatch, load_id) == LoadState.CANCELLED
    report = read_report(rt.storage.client, rt.ledger.load(load_id).report_uri or "")
    assert report["state"] == "cancelled" and report["counts_ok"]
    assert_rows_accounted(report)
    totals = report["totals"]
    assert totals["rows_submitted"] == ROWS_PER_CHUNK == totals["rows_processed"]
    assert [c["state"] for c in report["chunks"]] == ["done", "cancelled", "cancelled"]
    cancel = report["cancel"]
    assert cancel["rows_sent"] == ROWS_PER_CHUNK and cancel["chunks_cancelled"] == [1, 2]
    assert cancel["rows_not_sent"] == report["totals"]["rows_read"] - ROWS_PER_CHUNK
    assert cancel["source_read_up_to"] == {"source": report["source"], "line": 3 * 76 + 1}


def test_a_split_killed_then_cancelled_is_split_again_only_up_to_where_it_got(
    rt: Runtime, s3_client: Any, bucket: str
) -> None:
    load_id = _start(rt, s3_client, bucket)

    def killed() -> None:
        raise Killed

    _after_chunk(rt, 2, killed)
    with pytest.raises(Killed):
        split.split(rt, RecordingDispatcher(), load_id)
    rt.redis.delete(keys.split_lease(load_id))  # a killed worker's lease runs out
    del vars(rt.ledger)["add_chunk"]
    LoadControl(rt.redis).request_cancel(load_id)
    assert rt.ledger.load(load_id).chunks_total is None, "where the split stopped is unknown"
    dispatch = RecordingDispatcher()
    reconcile.reconcile(rt, dispatch)
    assert ("split", (load_id,)) in dispatch.calls, "the reconciler splits it again"

    assert split.split(rt, dispatch, load_id) == StepOutcome.SPLIT_STOPPED

    assert rt.ledger.chunk_indexes(load_id) == [0, 1, 2]
    load = rt.ledger.load(load_id)
    assert load.chunks_total == 3 and load.split_runs == 2
    assert load.rows_read == load.rows_submitted + load.rows_not_submitted


def test_a_resumed_load_sends_what_the_cancel_held_back_and_splits_the_rest(
    rt: Runtime, s3_client: Any, bucket: str
) -> None:
    load_id = _start(rt, s3_client, bucket)
    _after_chunk(rt, 2, lambda: LoadControl(rt.redis).request_cancel(load_id))
    split.split(rt, RecordingDispatcher(), load_id)
    del vars(rt.ledger)["add_chunk"]
    _run_job(rt, 0)
    assert finish.finish(rt, RecordingDispatcher(), load_id) == LoadState.CANCELLED
    first_report = rt.ledger.load(load_id).report_uri or ""

    answer = control.resume(rt, dispatch := RecordingDispatcher(), load_id)

    assert answer["outcome"] == "resumed" and answer["state"] == "splitting"
    assert ("split", (load_id,)) in dispatch.calls
    load = rt.ledger.load(load_id)
    assert not load.resuming and load.rows_cancelled == 0 and load.chunks_cancelled == 0
    assert [c.state for c in rt.ledger.chunks(load_id)][1:] == [ChunkState.WAITING] * 2
    assert split.split(rt, dispatch, load_id) == StepOutcome.SPLIT
    load = rt.ledger.load(load_id)
    assert load.state == LoadState.LOADING and load.chunks_total == CHUNKS
    assert load.rows_read == load.rows_submitted == CHUNKS * ROWS_PER_CHUNK
    assert load.rows_not_submitted == 0 and not load.split_stopped
    for index in range(1, CHUNKS):  # one permit at a time, as the pump hands them out
        rt.admission.release(f"{load_id}:{index - 1}")
        submit.pump(rt, dispatch)
        _run_job(rt, index)
    assert finish.finish(rt, dispatch, load_id) == LoadState.SUCCEEDED
    report = read_report(rt.storage.client, rt.ledger.load(load_id).report_uri or "")
    assert report["resumes"] == 1 and rt.ledger.load(load_id).report_uri != first_report
    assert_rows_accounted(report)
    assert [c["submissions"] for c in report["chunks"]] == [1] * CHUNKS, "chunk 0 not resent"


def _loading(rt: Runtime, bucket: str, chunks: int, rows: int) -> None:
    """A load split into ``chunks`` of ``rows`` each, as the ledger holds it."""
    payload = {"source": f"s3://{bucket}/in/k.csv", "object": "leads"}
    rt.ledger.create_load("L", payload, fields={"staging": f"s3://{bucket}/loads/L"})
    for index in range(chunks):
        fields = {"rows": rows, "bytes": 100, "uri": f"s3://{bucket}/c{index}", "attempts": 1}
        rt.ledger.add_chunk("L", index, fields)  # type: ignore[arg-type]
    totals = {"chunks_total": chunks, "rows_read": chunks * rows, "rows_submitted": chunks * rows}
    rt.ledger.update_load("L", [LoadState.PENDING], LoadState.LOADING, totals)  # type: ignore[arg-type]


def test_a_failed_job_of_a_cancelled_load_is_not_retried_and_a_resume_retries_it(
    rt: Runtime, bucket: str
) -> None:
    _loading(rt, bucket, chunks=1, rows=7)
    rt.ledger.move_chunk("L", 0, [ChunkState.WAITING], ChunkState.COLLECTING,
                         {"batch_id": "5", "status": "Failed", "message": "boom"})  # fmt: skip
    LoadControl(rt.redis).request_cancel("L")
    dispatch = RecordingDispatcher()

    assert collect.collect(rt, dispatch, "L", 0) == StepOutcome.COLLECTED

    chunk = rt.ledger.chunk("L", 0)
    assert chunk.state == ChunkState.FAILED and chunk.message == "boom; not retried: load cancelled"
    assert finish.finish(rt, dispatch, "L") == LoadState.CANCELLED
    assert rt.ledger.load("L").rows_in_failed_jobs == 7

    assert control.resume(rt, dispatch, "L")["outcome"] == "resumed"

    chunk = rt.ledger.chunk("L", 0)
    assert chunk.state == ChunkState.WAITING and rt.admission.snapshot().waiting == 1
    assert (chunk.attempts, chunk.attempts_before_resume) == (2, 1), "a fresh set of attempts"
    assert "boom" in (chunk.last_failure or "") and chunk.batch_id is None
    load = rt.ledger.load("L")
    assert (load.state, load.chunks_failed, load.rows_in_failed_jobs) == (LoadState.LOADING, 0, 0)


def test_the_reconciler_finishes_a_cancel_and_a_resume_whose_workers_died(
    rt: Runtime, bucket: str
) -> None:
    _loading(rt, bucket, chunks=3, rows=5)
    for index in range(3):
        rt.admission.enqueue(f"L:{index}")
    LoadControl(rt.redis).request_cancel("L")  # and the worker died before anything else
    dispatch = RecordingDispatcher()

    assert reconcile.reconcile(rt, dispatch)["cancelled"] == 3
    assert finish.finish(rt, dispatch, "L") == LoadState.CANCELLED

    LoadControl(rt.redis).request_resume("L")  # and the worker died before its put-back
    assert finish.finish(rt, dispatch, "L") == StepOutcome.IN_PROGRESS, "not closed again"
    assert reconcile.reconcile(rt, dispatch)["resumed"] == 3
    assert rt.admission.snapshot().outstanding == 1, "granted again at once (one permit)"
    assert rt.ledger.load("L").resumes == 1
