"""No POST before a Redis replica holds the chunk's permit (real primary and replica, WAIT)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from infra.local_sentinel import start_sentinel_group
from tests.pipeline_helpers import RecordingDispatcher
from tests.sandbox_helpers import admin
from tests.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Service, wait_for
from workers.pipeline import submit
from workers.pipeline.runtime import Runtime
from workers.settings import Settings
from workers.state.ledger import ChunkState, Ledger
from workers.storage import Storage

ACK_TIMEOUT_S = 0.5


def _imports(sandbox: Service) -> int:
    return sum(admin(sandbox, "GET", "/_sandbox/stats")["jobs"].values())


def test_a_submit_does_not_post_until_a_replica_holds_its_permit(
    sandbox: Service, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    group = start_sentinel_group(tmp_path, replicas=1, sentinels=0)
    primary, replica = group.servers
    try:
        settings = Settings(
            redis_url=primary.url,
            redis_min_replica_acks=1,
            redis_replica_ack_timeout_s=ACK_TIMEOUT_S,
            marketo_rest_url=sandbox.url,  # type: ignore[arg-type]
            marketo_client_id=SANDBOX_CLIENT_ID,
            marketo_client_secret=SecretStr(SANDBOX_CLIENT_SECRET),
        )
        rt = Runtime(settings)
        rt.__dict__["storage"] = Storage(client=s3_client)
        key = "loads/L/chunks/chunk-00000.csv"
        body = b"email,firstName\na@example.com,A\nb@example.com,B\n"
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
        rt.ledger.create_load("L", {"source": "s3://b/k", "object": "leads"})
        rt.ledger.add_chunk("L", 0, {"rows": 2, "bytes": len(body), "uri": f"s3://{bucket}/{key}"})
        chunk_id = Ledger.chunk_id("L", 0)
        rt.admission.enqueue(chunk_id)
        assert rt.admission.grant() == [chunk_id]
        rt.ledger.move_chunk("L", 0, [ChunkState.WAITING], ChunkState.SUBMITTING)
        dispatch = RecordingDispatcher()

        os.kill(replica.process.pid, signal.SIGSTOP)  # connected, but acknowledges nothing
        try:
            started = time.monotonic()
            assert submit.submit(rt, dispatch, "L", 0) == "awaiting-replica"
            assert time.monotonic() - started >= ACK_TIMEOUT_S * 0.9
            assert _imports(sandbox) == 0  # nothing reached Marketo
            chunk = rt.ledger.chunk("L", 0)
            assert chunk.state == ChunkState.SUBMITTING
            assert chunk.post_started_at is None  # a later attempt is not counted as a double
            assert chunk.submissions == 0
            assert rt.admission.holds(chunk_id)  # the permit stays with the chunk
            assert dispatch.calls == [("submit", ("L", 0))]  # tried again shortly
        finally:
            os.kill(replica.process.pid, signal.SIGCONT)

        # The replica, running again, catches up with what it missed before it acknowledges.
        def caught_up() -> bool:
            rt.redis.set("test:replica-probe", "1")
            return int(rt.redis.wait(1, 1000)) >= 1

        wait_for(caught_up, timeout=30, what="the replica to catch up")
        assert submit.submit(rt, dispatch, "L", 0) == "submitted"
        assert _imports(sandbox) == 1
        chunk = rt.ledger.chunk("L", 0)
        assert chunk.state == ChunkState.SUBMITTED and chunk.submissions == 1
        assert rt.ledger.load("L").possible_double_submissions == 0
    finally:
        group.stop()
