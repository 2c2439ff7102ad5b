"""Chunk steps driven directly (real Redis and sandbox), with a dispatcher that records."""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from tests.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Service
from workers import chunk_steps
from workers.ledger import ChunkState, Ledger
from workers.runtime import Runtime
from workers.settings import Settings


class RecordingDispatcher:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self.calls.append((name, args))


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
                         {"batch_id": 987654, "poll_token": "t1"})  # fmt: skip
    dispatch = RecordingDispatcher()

    assert chunk_steps.poll(rt, dispatch, "L", 0, "t1") == "failed"  # type: ignore[arg-type]

    chunk = rt.ledger.chunk("L", 0)
    assert chunk["state"] == "failed" and "Marketo 1003" in chunk["message"]
    assert not rt.admission.holds(chunk_id)
    assert ("finish", ("L",)) in dispatch.calls
    assert rt.ledger.load("L")["rows_in_failed_jobs"] == "7"
    assert json.loads(rt.ledger.load("L")["params"])["object"] == "leads"


def test_a_stale_poll_does_nothing(redis_url: str, sandbox: Service) -> None:
    rt = runtime_for(redis_url, sandbox)
    rt.ledger.create_load("L", {"source": "s3://b/k", "object": "leads"})
    rt.ledger.add_chunk("L", 0, {"rows": 1, "bytes": 10, "uri": "s3://b/c"})
    rt.ledger.move_chunk("L", 0, [ChunkState.WAITING], ChunkState.SUBMITTED,
                         {"batch_id": 1, "poll_token": "current"})  # fmt: skip
    dispatch = RecordingDispatcher()
    assert chunk_steps.poll(rt, dispatch, "L", 0, "superseded") == "stale"  # type: ignore[arg-type]
    assert dispatch.calls == []
