"""Pushed records end to end with real worker processes, beat, Redis, S3 and the sandbox:
by age, by size, through bulk import without the entitlement, and nothing lost when a
worker is SIGKILLed with records queued or in flight."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.pipeline_helpers import Pipeline
from tests.push.push_helpers import MUNCHKIN_ID, leads
from tests.sandbox_helpers import admin, configure
from tests.services import Service, wait_for
from workers.state import keys as redis_keys

pytestmark = pytest.mark.slow
MKTO_BULK = str(Path(sys.executable).with_name("mkto-bulk"))


@pytest.fixture
def workers(pipeline_with: Callable[..., Pipeline], sandbox: Service) -> Pipeline:
    """Workers entitled to the sandbox's Data Ingestion API; a killed flusher lapses in 3 s."""
    return pipeline_with(
        MARKETO_INGESTION_URL=sandbox.url,
        MARKETO_MUNCHKIN_ID=MUNCHKIN_ID,
        PUSH_FLUSH_LEASE_S="5",
        PUSH_SWEEP_INTERVAL_S="1",
    )


def _push(pipeline: Pipeline, **payload: Any) -> dict[str, Any]:
    """Push as a producer does: the task by name, from a bare Celery app."""
    result = pipeline.celery().send_task("mkto_bulk.push_records", kwargs=payload)
    answer: dict[str, Any] = result.get(timeout=60)
    return answer


def _lead_count(sandbox: Service) -> int:
    return int(admin(sandbox, "GET", "/_sandbox/records/leads")["count"])


def _requests(sandbox: Service) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = admin(sandbox, "GET", "/_sandbox/ingestion/requests")["requests"]
    return found


def _wait_for_leads(sandbox: Service, count: int, timeout: float, pipeline: Pipeline) -> None:
    wait_for(lambda: _lead_count(sandbox) >= count, timeout=timeout, interval=0.2,
             what=f"{count} leads in the sandbox (logs in {pipeline.logdir})")  # fmt: skip


def _instance(sandbox: Service) -> str:
    """The workers' MARKETO_INSTANCE default: the REST host and port."""
    return sandbox.url.removeprefix("http://")


def _cli(pipeline: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MKTO_BULK, *args], env=pipeline.env, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def test_pushed_records_reach_marketo_once_the_oldest_is_max_age_old(
    workers: Pipeline, sandbox: Service
) -> None:
    workers.start_worker("a")
    workers.wait_ready()
    pushed_at = time.time()
    bad = {"email": "bad@example.com", "leadScore": "high"}
    answer = _push(workers, object="leads", maxAgeS=3, records=[*leads(5), bad])
    assert answer["accepted"] == 5 and answer["api"] == "ingestion"
    assert [r["message"] for r in answer["refused"]] == [
        'records[5]: field leadScore: "high" is not an integer'
    ]
    _wait_for_leads(sandbox, 5, timeout=30, pipeline=workers)
    [request] = _requests(sandbox)
    waited = request["received_at"] - pushed_at
    assert 2.5 <= waited <= 3 + 5, waited  # flushed by age: not before maxAgeS, soon after it
    assert request["objects"] == 5 and request["request_source"] == "mkto-bulk"


def test_a_queue_holding_a_full_request_flushes_without_waiting_for_the_age(
    workers: Pipeline, sandbox: Service
) -> None:
    workers.start_worker("a")
    workers.wait_ready()
    pushed_at = time.time()
    _push(workers, object="leads", maxAgeS=600, records=leads(1_500))
    wait_for(lambda: len(_requests(sandbox)) >= 1, timeout=20, interval=0.2,
             what="the full request to be sent")  # fmt: skip
    [request] = _requests(sandbox)
    assert request["objects"] == 1_000 and request["received_at"] - pushed_at < 10
    time.sleep(1)  # the other 500 wait for their age: nothing else is sent meanwhile
    assert len(_requests(sandbox)) == 1


def test_without_the_entitlement_pushed_records_arrive_through_bulk_import(
    workers: Pipeline, sandbox: Service
) -> None:
    configure(sandbox, ingestion={"entitled": False})
    workers.start_worker("a")
    workers.wait_ready()
    _push(workers, object="leads", maxAgeS=1, records=leads(20))
    _wait_for_leads(sandbox, 20, timeout=60, pipeline=workers)
    stats = admin(sandbox, "GET", "/_sandbox/stats")
    assert stats["calls_by_endpoint"].get("POST /bulk/v1/leads.json") == 1
    # Remembered for every worker: the next push of the queue is told it goes through bulk.
    assert _push(workers, object="leads", records=leads(1, start=20))["api"] == "bulk"


def test_a_worker_killed_with_records_queued_loses_none_of_them(
    workers: Pipeline, sandbox: Service
) -> None:
    workers.start_worker("doomed")
    workers.wait_ready()
    workers.start_beat()
    _push(workers, object="leads", maxAgeS=2, records=leads(300))
    # The worker holds the queue's scheduled flush; it dies before it is due.
    workers.kill_worker(workers.workers[0])
    workers.start_worker("b")
    _wait_for_leads(sandbox, 300, timeout=60, pipeline=workers)


def test_a_worker_killed_mid_flush_loses_nothing_and_the_repeat_is_counted(
    workers: Pipeline, sandbox: Service
) -> None:
    configure(sandbox, faults={"slow_seconds": 30})
    admin(sandbox, "POST", "/_sandbox/faults",
          {"fault": "slow", "count": 1, "path_prefix": "/subscriptions/"})  # fmt: skip
    workers.start_worker("doomed")
    workers.wait_ready()
    workers.start_beat()
    answer = _push(workers, object="leads", maxAgeS=2, records=leads(1_500))
    queue_key = redis_keys.push_queue(_instance(sandbox), answer["queue"])

    def sending() -> bool:
        # The batch is recorded as in flight, and its POST reached the sandbox (which holds it).
        in_flight = workers.redis.hget(queue_key, "inflight")
        return in_flight is not None and not admin(sandbox, "GET", "/_sandbox/faults")["queued"]

    wait_for(sending, timeout=30, interval=0.1, what="the first request to be in flight")
    workers.kill_worker(workers.workers[0])
    workers.start_worker("b")
    _wait_for_leads(sandbox, 1_500, timeout=90, pipeline=workers)
    wait_for(lambda: workers.redis.hget(queue_key, "sent") == b"1500", timeout=30,
             interval=0.2, what="every record counted as sent")  # fmt: skip
    assert workers.redis.hget(queue_key, "repeated") == b"1000"
    assert workers.redis.xlen(redis_keys.push_stream(_instance(sandbox), answer["queue"])) == 0
    assert _lead_count(sandbox) == 1_500


def test_status_and_metrics_show_each_queue(workers: Pipeline, sandbox: Service) -> None:
    workers.start_worker("a")
    workers.wait_ready()
    answer = _push(workers, object="leads", maxAgeS=600, records=leads(7))
    _push(workers, object="leads", maxAgeS=600, records=[{"email": 1}])
    shown = _cli(workers, "status")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "push queues:" in lines
    [row] = [line for line in lines if line.startswith(answer["queue"])]
    assert row.split()[:9] == [answer["queue"], "leads", "auto", "7", row.split()[4], "0", "0",
                               "0", "1"]  # fmt: skip
    as_json = json.loads(_cli(workers, "status", "--queues", "--json").stdout)
    assert [(q["queue"], q["depth"], q["refused"]) for q in as_json] == [(answer["queue"], 7, 1)]
    metrics = _cli(workers, "metrics", "--once").stdout
    samples = {
        (sample.name, sample.labels.get("queue")): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
    }
    queue = answer["queue"]
    assert samples[("mkto_bulk_push_queue_depth", queue)] == 7
    assert samples[("mkto_bulk_push_queue_oldest_age_seconds", queue)] < 60
    assert samples[("mkto_bulk_push_queue_flushes_total", queue)] == 0
    assert samples[("mkto_bulk_push_queue_records_sent_total", queue)] == 0
    assert samples[("mkto_bulk_push_queue_records_failed_total", queue)] == 0
    assert samples[("mkto_bulk_push_queue_records_refused_total", queue)] == 1


def test_the_command_line_and_the_python_function_push_and_name_what_they_refused(
    workers: Pipeline, sandbox: Service, tmp_path: Path
) -> None:
    from workers.errors import InputError
    from workers.push import push_records

    workers.start_worker("a")
    workers.wait_ready()
    data = tmp_path / "signups.jsonl"
    data.write_bytes(
        b'{"email": "cli0@example.com"}\n\n{"email": \n["x"]\n{"email": "cli1@example.com"}\n'
        b'\xff\xfe{"email": "latin@example.com"}\n'
    )
    done = _cli(workers, "push", str(data), "--object", "leads", "--max-age", "1")
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("2 records queued in queue ")
    assert done.stderr.splitlines() == [
        f"{data} line 3: not JSON (Expecting value: line 1 column 11 (char 10))",
        f"{data} line 6: not UTF-8 text (byte 0xff at position 1)",
        f"{data} line 4: is a list, not a JSON object",
    ]
    _wait_for_leads(sandbox, 2, timeout=30, pipeline=workers)
    result = push_records(
        {"object": "leads", "maxAgeS": 1, "records": [{"email": "py@example.com"}, {"emial": 1}]},
        redis_url=workers.redis_url,
    )
    assert result.accepted == 1 and result.api == "ingestion"
    assert [r["message"] for r in result.refused] == [
        'records[1]: field emial: is not a field of leads (did you mean "email"?)'
    ]
    with pytest.raises(InputError, match="invalid push: object: is required"):
        push_records({"records": [{}]}, redis_url=workers.redis_url)
    _wait_for_leads(sandbox, 3, timeout=30, pipeline=workers)
