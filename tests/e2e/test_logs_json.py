"""LOG_FORMAT=json: a worker's and beat's logs are one JSON object per line, with the load's fields.

Real worker and beat processes; their logs are the files their stdout and stderr go to.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.pipeline_helpers import Pipeline, lead_rows, put_dataset
from tests.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, wait_for
from workers.state import keys as redis_keys

HEADER = "email,firstName,lastName,leadScore\n"
LOAD_TASKS = {
    "mkto_bulk.start_load",
    "mkto_bulk.split_source",
    "mkto_bulk.submit_chunk",
    "mkto_bulk.poll_chunk",
    "mkto_bulk.collect_chunk",
    "mkto_bulk.finish_load",
}
CHUNK_TASKS = {"mkto_bulk.submit_chunk", "mkto_bulk.poll_chunk", "mkto_bulk.collect_chunk"}


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the file as a JSON object (the test fails naming the first that is not)."""
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"{path.name}:{number} is not JSON: {line!r}") from None
        assert isinstance(record, dict), f"{path.name}:{number}: {line!r}"
        records.append(record)
    return records


def test_json_logs_carry_the_loads_fields_on_every_line_and_no_secret(
    pipeline_with: Callable[..., Pipeline], s3_client: Any, bucket: str
) -> None:
    pipeline = pipeline_with(CHUNK_BYTE_LIMIT="4096", LOG_FORMAT="json", RECONCILE_INTERVAL_S="1")
    source = put_dataset(s3_client, bucket, "in/logged.csv", HEADER + "".join(lead_rows(150)))
    pipeline.start_beat()
    pipeline.start_worker("a", concurrency=2)
    pipeline.wait_ready()
    load_id = pipeline.start_load(source=source, object="leads")
    assert pipeline.wait_until_finished(load_id)["state"] == "succeeded"
    beat_log = pipeline.logdir / "worker-beat.log"

    def beat_sent_a_sweep() -> bool:
        return '"Scheduler: Sending due task' in beat_log.read_text()

    wait_for(beat_sent_a_sweep, timeout=30, interval=0.2, what="beat to send the reconciler")

    beat = json_lines(beat_log)
    assert {r["logger"] for r in beat} >= {"celery.beat", "tasks.load"}
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in beat)
    records = json_lines(pipeline.logdir / "worker-a.log")
    assert all({"time", "level", "logger", "process", "message"} <= r.keys() for r in records)

    ours = [r for r in records if r.get("load_id") == load_id]
    assert {r.get("task_name") for r in ours} >= LOAD_TASKS, "every step's lines name the load"
    assert all(r.get("task_id") and r.get("task_name") for r in ours)
    assert all(isinstance(r.get("chunk"), int) for r in ours if r["task_name"] in CHUNK_TASKS)
    assert all(f"load_id={load_id}" not in r["message"] or r.get("load_id") for r in records)
    for chunk in pipeline.chunks(load_id):
        index, batch_id = int(chunk["index"]), chunk["batch_id"]
        done = [r for r in ours if r["logger"] == "workers.pipeline.poll" and r["chunk"] == index]
        assert [r["batch_id"] for r in done] == [batch_id], done
        calls = [
            r
            for r in ours
            if r["logger"] == "workers.marketo.core" and r.get("batch_id") == batch_id
        ]
        assert calls and all(r["marketo"]["code"] == "ok" for r in calls), calls
    # The worker's main process names the task it received (the line is about the task).
    received = [r for r in records if r["message"].endswith(" received")]
    assert {r["task_name"] for r in received} >= LOAD_TASKS
    assert {r["task_id"] for r in ours} <= {r["task_id"] for r in received}

    cached = json.loads(pipeline.redis.get(redis_keys.token(SANDBOX_CLIENT_ID)) or "{}")
    everything = pipeline.logs()
    assert SANDBOX_CLIENT_SECRET not in everything
    assert str(cached["token"]) not in everything
