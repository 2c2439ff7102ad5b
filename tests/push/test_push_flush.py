"""Flushing a queue through the sandbox: full requests at once, the rest when due, refusals
recorded, bulk import when the instance is not entitled, a dead flusher's batch sent again."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.push.push_helpers import RecordingDispatcher, RecordingScheduler, leads, push_runtime
from tests.sandbox_helpers import admin, configure, drain, records
from tests.services import Service
from workers.pipeline.runtime import Runtime
from workers.push.flush import Flusher, flush
from workers.push.intake import push
from workers.push.queue import InFlight, PushQueue


@pytest.fixture
def rt(redis_url: str, sandbox: Service, s3_client: Any, bucket: str) -> Runtime:
    return push_runtime(redis_url, sandbox, s3_client, bucket)


def _requests(sandbox: Service) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = admin(sandbox, "GET", "/_sandbox/ingestion/requests")["requests"]
    return found


def _lead_count(sandbox: Service) -> int:
    return int(admin(sandbox, "GET", "/_sandbox/records/leads")["count"])


def _s3_lines(s3_client: Any, uri: str) -> list[dict[str, Any]]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_full_requests_go_at_once_and_the_rest_waits_for_its_age(
    rt: Runtime, sandbox: Service
) -> None:
    scheduler = RecordingScheduler()
    answer = push(rt, scheduler, {"object": "leads", "maxAgeS": 30, "records": leads(2_500)})
    queue_id = answer["queue"]
    assert (answer["accepted"], answer["api"]) == (2_500, "ingestion")
    assert scheduler.flushes == [(queue_id, 0.0)]  # it holds a full request: flush now
    now = time.time()
    first = Flusher(rt, RecordingDispatcher(), queue_id, clock=lambda: now).run()
    assert (first.batches, first.sent) == (2, 2_000)
    assert first.next_flush_at is not None and first.next_flush_at > now + 25
    assert [r["objects"] for r in _requests(sandbox)] == [1_000, 1_000]
    later = Flusher(rt, RecordingDispatcher(), queue_id, clock=lambda: now + 31).run()
    assert (later.batches, later.sent, later.next_flush_at) == (1, 500, None)
    drain(sandbox)
    assert _lead_count(sandbox) == 2_500
    [lead] = records(sandbox, "leads", email="pushed2499@example.com")
    assert lead["leadScore"] == 2_499
    status = PushQueue(rt.redis, rt.settings.instance, queue_id).meta()
    assert (status["sent"], status["flushes"], status["bytes"]) == ("2500", "3", "0")
    assert PushQueue(rt.redis, rt.settings.instance, queue_id).depth() == 0


def test_a_flush_before_the_age_sends_nothing_and_schedules_itself_for_it(
    rt: Runtime, sandbox: Service
) -> None:
    scheduler = RecordingScheduler()
    answer = push(rt, scheduler, {"object": "leads", "maxAgeS": 20, "records": leads(10)})
    [(queue_id, countdown)] = scheduler.flushes
    assert 19 < countdown <= 20
    done = flush(rt, RecordingDispatcher(), scheduler, queue_id)
    assert done["batches"] == 0 and _requests(sandbox) == []
    assert scheduler.flushes[-1][0] == queue_id and 18 < scheduler.flushes[-1][1] <= 20
    assert answer["depth"] == 10


def test_a_request_marketo_refuses_fails_its_records_into_s3_with_code_and_message(
    rt: Runtime, sandbox: Service, s3_client: Any
) -> None:
    payload = {"object": "programmembers", "programId": 1002,
               "programMemberStatus": "Not in Program", "records": [{"leadId": 1}, {"leadId": 2}],
               "maxAgeS": 1}  # fmt: skip
    queue_id = push(rt, RecordingScheduler(), payload)["queue"]
    done = Flusher(rt, RecordingDispatcher(), queue_id, clock=lambda: time.time() + 2).run()
    assert (done.sent, done.failed) == (0, 2)
    queue = PushQueue(rt.redis, rt.settings.instance, queue_id)
    meta = queue.meta()
    assert (meta["failed"], queue.depth()) == ("2", 0)
    failed = _s3_lines(s3_client, meta["failures_uri"])
    assert [f["record"] for f in failed] == [{"leadId": 1}, {"leadId": 2}]
    assert {f["error_code"] for f in failed} == {"4000802"}
    assert "Not in Program" in failed[0]["message"]


def test_without_the_entitlement_records_go_through_a_bulk_import_load(
    rt: Runtime, sandbox: Service, s3_client: Any
) -> None:
    configure(sandbox, ingestion={"entitled": False})
    queue_id = push(rt, RecordingScheduler(), {"object": "leads", "records": leads(3),
                                                "maxAgeS": 1})["queue"]  # fmt: skip
    dispatch = RecordingDispatcher()
    done = Flusher(rt, dispatch, queue_id, clock=lambda: time.time() + 2).run()
    assert (done.sent, done.failed) == (3, 0)
    [load_id] = [args[0] for name, args in dispatch.calls if name == "split"]
    load = rt.ledger.load(load_id)
    source = load.request.source
    bucket, key = source.removeprefix("s3://").split("/", 1)
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert body.splitlines() == [
        "email,firstName,leadScore",
        "pushed0@example.com,P0,0",
        "pushed1@example.com,P1,1",
        "pushed2@example.com,P2,2",
    ]
    meta = PushQueue(rt.redis, rt.settings.instance, queue_id).meta()
    assert meta["last_load_id"] == load_id
    # Remembered: the next push chooses bulk import at once.
    assert push(rt, RecordingScheduler(), {"object": "leads", "records": leads(1)})["api"] == "bulk"


def test_ingestion_asked_for_without_the_entitlement_fails_the_records_with_marketos_answer(
    rt: Runtime, sandbox: Service, s3_client: Any
) -> None:
    configure(sandbox, ingestion={"entitled": False})
    payload = {"object": "leads", "api": "ingestion", "records": leads(2), "maxAgeS": 1}
    queue_id = push(rt, RecordingScheduler(), payload)["queue"]
    done = Flusher(rt, RecordingDispatcher(), queue_id, clock=lambda: time.time() + 2).run()
    assert (done.sent, done.failed) == (0, 2)
    meta = PushQueue(rt.redis, rt.settings.instance, queue_id).meta()
    failed = _s3_lines(s3_client, meta["failures_uri"])
    assert {f["error_code"] for f in failed} == {"4030801"}
    assert "not entitled to the Data Ingestion API" in meta["last_error"]


def test_a_batch_a_dead_flusher_may_have_sent_is_sent_again_as_the_same_batch_and_counted(
    rt: Runtime, sandbox: Service
) -> None:
    queue_id = push(rt, RecordingScheduler(), {"object": "leads", "records": leads(1_200)})["queue"]
    queue = PushQueue(rt.redis, rt.settings.instance, queue_id)
    read = queue.read_new("dead-flusher")
    batch = read[:1_000]
    queue.begin(InFlight(f"{queue_id}-{batch[0].id}", "ingestion", batch[0].id, batch[-1].id,
                         1_000))  # fmt: skip
    # ... and the worker was killed there, maybe after its POST. The next flusher:
    done = Flusher(rt, RecordingDispatcher(), queue_id, clock=lambda: time.time() + 61).run()
    assert (done.batches, done.sent) == (2, 1_200)
    assert queue.meta()["repeated"] == "1000"
    assert [r["objects"] for r in _requests(sandbox)] == [1_000, 200]
    assert _requests(sandbox)[0]["correlation_id"] == f"{queue_id}-{batch[0].id}"
    drain(sandbox)
    assert _lead_count(sandbox) == 1_200


def test_the_sweep_hands_overdue_queues_to_a_flusher_unless_one_holds_them(rt: Runtime) -> None:
    from beat_schedule import beat_schedule
    from workers.push.flush import sweep
    from workers.state import keys as redis_keys

    def queue(**payload: Any) -> str:
        return str(push(rt, RecordingScheduler(), {"object": "leads", **payload})["queue"])

    overdue = queue(records=leads(1), maxAgeS=1)
    held = queue(lookupField="email", records=leads(1), maxAgeS=1)
    later = queue(lookupField="id", records=[{"id": 1}], maxAgeS=600)
    assert len({overdue, held, later}) == 3  # one queue per object, parameters and API
    rt.redis.set(redis_keys.push_flush_lease(rt.settings.instance, held), "a live flusher")
    scheduler = RecordingScheduler()
    assert sweep(rt, scheduler, now=time.time() + 2) == 1
    assert scheduler.flushes == [(overdue, 0)]
    entry = beat_schedule(20, push_sweep_s=5)["mkto-bulk-push-sweep"]
    assert (entry["task"], entry["schedule"]) == ("mkto_bulk.push_sweep", 5)
