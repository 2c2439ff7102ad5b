"""Chunk steps driven directly (real Redis and sandbox), with a dispatcher that records."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from tests.pipeline_helpers import RecordingDispatcher
from tests.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Service
from workers.pipeline import collect, poll, submit
from workers.pipeline.runtime import Runtime
from workers.settings import Settings
from workers.state.ledger import ChunkFields, ChunkState, Ledger


def runtime_for(redis_url: str, sandbox: Service) -> Runtime:
    settings = Settings(
        redis_url=redis_url,
        marketo_rest_url=sandbox.url,  # type: ignore[arg-type]
        marketo_client_id=SANDBOX_CLIENT_ID,
        marketo_client_secret=SecretStr(SANDBOX_CLIENT_SECRET),
    )
    return Runtime(settings)


def test_a_job_marketo_no_longer_knows_fails_its_chunk_instead_of_polling_forever(
    redis_url: str, sandbox: Service
) -> None:
    rt = runtime_for(redis_url, sandbox)
    rt.ledger.create_load("L", {"source": "s3://b/k", "object": "leads"})
    rt.ledger.add_chunk("L", 0, {"rows": 7, "bytes": 100, "uri": "s3://b/c"})
    chunk_id = Ledger.chunk_id("L", 0)
    rt.admission.enqueue(chunk_id)
    assert rt.admission.grant() == [chunk_id]
    rt.ledger.move_chunk("L", 0, [ChunkState.WAITING], ChunkState.SUBMITTED,
                         {"batch_id": "987654", "poll_token": "t1"})  # fmt: skip
    dispatch = RecordingDispatcher()

    assert poll.poll(rt, dispatch, "L", 0, "t1") == "failed"

    chunk = rt.ledger.chunk("L", 0)
    assert chunk.state == ChunkState.FAILED and "Marketo 1003" in (chunk.message or "")
    assert not rt.admission.holds(chunk_id)
    assert ("finish", ("L",)) in dispatch.calls
    assert rt.ledger.load("L").rows_in_failed_jobs == 7
    assert rt.ledger.load("L").params["object"] == "leads"


def test_a_failed_job_retried_forgets_when_the_failed_one_started_importing(
    redis_url: str, sandbox: Service
) -> None:
    rt = runtime_for(redis_url, sandbox)
    rt.ledger.create_load("L", {"source": "s3://b/k", "object": "leads"}, None,
                          {"staging": "s3://b/loads/L"})  # fmt: skip
    rt.ledger.add_chunk("L", 0, {"rows": 7, "bytes": 100, "uri": "s3://b/c"})
    failed: ChunkFields = {
        "batch_id": "55",
        "status": "Failed",
        "attempts": 1,
        "importing_since": 1_790_000_000.0,
        "message": "Import failed",
    }
    rt.ledger.move_chunk("L", 0, [ChunkState.WAITING], ChunkState.COLLECTING, failed)

    assert collect.collect(rt, RecordingDispatcher(), "L", 0) == "retry"

    chunk = rt.ledger.chunk("L", 0)
    assert (chunk.state, chunk.attempts, chunk.last_failure) == (
        ChunkState.WAITING,
        2,
        "Import failed",
    )
    assert chunk.importing_since is None, "the next job's polls and timeline start afresh"


def test_a_stale_poll_does_nothing(redis_url: str, sandbox: Service) -> None:
    rt = runtime_for(redis_url, sandbox)
    rt.ledger.create_load("L", {"source": "s3://b/k", "object": "leads"})
    rt.ledger.add_chunk("L", 0, {"rows": 1, "bytes": 10, "uri": "s3://b/c"})
    rt.ledger.move_chunk("L", 0, [ChunkState.WAITING], ChunkState.SUBMITTED,
                         {"batch_id": "1", "poll_token": "current"})  # fmt: skip
    dispatch = RecordingDispatcher()
    assert poll.poll(rt, dispatch, "L", 0, "superseded") == "stale"
    assert dispatch.calls == []


def _granted_chunk(rt: Runtime, uri: str, rows: int = 3) -> str:
    rt.ledger.create_load("L", {"source": "s3://b/k", "object": "leads"})
    rt.ledger.add_chunk("L", 0, {"rows": rows, "bytes": 100, "uri": uri})
    chunk_id = Ledger.chunk_id("L", 0)
    rt.admission.enqueue(chunk_id)
    assert rt.admission.grant() == [chunk_id]
    rt.ledger.move_chunk("L", 0, [ChunkState.WAITING], ChunkState.SUBMITTING)
    return chunk_id


def test_a_chunk_file_deleted_before_its_submit_fails_the_chunk_and_frees_its_permit(
    redis_url: str, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    from workers.storage import Storage

    rt = runtime_for(redis_url, sandbox)
    rt.__dict__["storage"] = Storage(client=s3_client)
    chunk_id = _granted_chunk(rt, f"s3://{bucket}/loads/L/chunks/chunk-00000.csv")
    dispatch = RecordingDispatcher()

    assert submit.submit(rt, dispatch, "L", 0) == "failed"

    chunk = rt.ledger.chunk("L", 0)
    assert chunk.state == ChunkState.FAILED
    assert chunk.message == f"s3://{bucket}/loads/L/chunks/chunk-00000.csv: no such object"
    assert not rt.admission.holds(chunk_id)
    assert rt.admission.snapshot().outstanding == 0
    assert ("finish", ("L",)) in dispatch.calls


def test_a_poll_that_keeps_failing_unexpectedly_fails_its_chunk_after_three_attempts(
    redis_url: str, sandbox: Service
) -> None:
    """Every status answer is unreadable: polls retry twice, then the chunk fails, its
    permit is freed and a ghost keeps the slot while the job may still run."""
    from tests.sandbox_helpers import admin

    rt = runtime_for(redis_url, sandbox)
    chunk_id = _granted_chunk(rt, "s3://b/c", rows=7)
    rt.ledger.move_chunk("L", 0, [ChunkState.SUBMITTING], ChunkState.SUBMITTED,
                         {"batch_id": "1001", "poll_token": "t0"})  # fmt: skip
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "garbled", "count": 3})
    dispatch = RecordingDispatcher()
    reason = "ValueError: invalid literal for int() with base 10: 'garbled'"

    outcomes = []
    for _ in range(3):
        token = rt.ledger.chunk("L", 0).poll_token
        assert token is not None
        outcomes.append(poll.poll(rt, dispatch, "L", 0, token))

    assert outcomes == ["unexpected-error", "unexpected-error", "failed"]
    assert [name for name, _ in dispatch.calls if name == "poll"] == ["poll", "poll"]
    chunk = rt.ledger.chunk("L", 0)
    assert chunk.state == ChunkState.FAILED
    assert chunk.message == f"poll failed 3 times with an unexpected error: {reason}"
    assert rt.ledger.load("L").last_error == f"chunk 0 poll: {reason}"
    assert rt.ledger.load("L").rows_in_failed_jobs == 7
    assert not rt.admission.holds(chunk_id)
    assert rt.admission.snapshot().outstanding == 1  # the ghost of a job that may run
