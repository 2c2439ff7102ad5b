"""One load, one trace: from the ETL's send_task through every step to its callback.

Real worker processes export over OTLP/HTTP (OTEL_TRACES_EXPORTER=otlp) to a
stand-in collector in the test; the ETL is a bare Celery app that sends the W3C
``traceparent`` in the message headers, as opentelemetry-instrumentation-celery does.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.otlp_helpers import ExportedSpan, OtlpReceiver
from tests.pipeline_helpers import Pipeline, lead_rows, put_dataset
from tests.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, wait_for
from workers.state import keys as redis_keys

HEADER = "email,firstName,lastName,leadScore\n"
STEPS = {
    "mkto_bulk.start_load",
    "mkto_bulk.split_source",
    "mkto_bulk.submit_chunk",
    "mkto_bulk.poll_chunk",
    "mkto_bulk.collect_chunk",
    "mkto_bulk.finish_load",
}
CALLBACK = "etl.load_finished"


@pytest.fixture
def collector() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def _ancestors(span: ExportedSpan, by_id: dict[str, ExportedSpan]) -> Iterator[ExportedSpan]:
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        yield span


def test_every_step_of_a_load_is_in_the_trace_its_etl_sent(
    pipeline_with: Callable[..., Pipeline], collector: OtlpReceiver, s3_client: Any, bucket: str
) -> None:
    pipeline = pipeline_with(
        CHUNK_BYTE_LIMIT="4096",
        LOG_FORMAT="json",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=collector.url,
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    source = put_dataset(s3_client, bucket, "in/traced.csv", HEADER + "".join(lead_rows(150)))
    # At first the worker takes no split or Marketo work: the split start_load sends waits,
    # and the reconciler (sent untraced, as beat does) sends the split again from its own trace.
    pipeline.start_worker("a", concurrency=2, queues="celery,mkto_poll")
    pipeline.wait_ready()
    etl_trace, etl_span = secrets.token_hex(16), secrets.token_hex(8)
    etl = pipeline.celery()
    started = etl.send_task(
        "mkto_bulk.start_load",
        kwargs={"source": source, "object": "leads", "callback": CALLBACK, "callbackQueue": "etl"},
        headers={"traceparent": f"00-{etl_trace}-{etl_span}-01"},
    )
    load_id = str(started.get(timeout=60)["load_id"])
    assert etl_trace in pipeline.load(load_id)["trace_context"], "stored with the load"
    assert etl.send_task("mkto_bulk.reconcile").get(timeout=60).get("split") == 1
    for queue in ("mkto_split", "mkto_marketo"):
        assert etl.control.add_consumer(queue, reply=True, timeout=10, limit=1), queue
    assert pipeline.wait_until_finished(load_id)["state"] == "succeeded"

    def whole_trace_exported() -> bool:
        """The callback was sent, and every span's parent has arrived (a parent ends last)."""
        trace = [s for s in collector.spans() if s.trace_id == etl_trace]
        ids = {s.span_id for s in trace} | {etl_span}
        sent = any(s.name == f"apply_async/{CALLBACK}" for s in trace)
        return sent and all(s.parent_id in ids for s in trace)

    wait_for(whole_trace_exported, timeout=30, interval=0.2, what="the load's whole trace")
    spans = collector.spans()
    by_id = {s.span_id: s for s in spans}
    ours = [s for s in spans if s.attributes.get("mkto_bulk.load_id") == load_id]
    runs = [s for s in ours if s.name.startswith("run/")]
    assert {s.attributes["celery.task_name"] for s in runs} >= STEPS
    assert {s.trace_id for s in ours} == {etl_trace}, "every step of the load in the ETL's trace"
    (start,) = [s for s in runs if s.name == "run/mkto_bulk.start_load"]
    assert start.parent_id == etl_span
    polls = [s for s in runs if s.name == "run/mkto_bulk.poll_chunk"]
    assert all(isinstance(s.attributes.get("mkto_bulk.batch_id"), str) for s in polls)
    assert all(isinstance(s.attributes.get("mkto_bulk.chunk"), int) for s in polls)

    # The split the reconciler sent is in the load's trace, linked to the reconciler's own.
    (sweep,) = [s for s in spans if s.name == "run/mkto_bulk.reconcile"]
    assert sweep.trace_id != etl_trace, "the reconciler has a trace of its own"
    splits = [s for s in runs if s.name == "run/mkto_bulk.split_source"]
    assert len(splits) == 2, "the split start_load sent, and the one the reconciler sent"
    senders = [by_id[by_id[s.parent_id].parent_id] for s in splits]
    assert sorted(s.name for s in senders) == ["rejoin load", "run/mkto_bulk.start_load"]
    (rejoin,) = [s for s in senders if s.name == "rejoin load"]
    assert rejoin.parent_id == start.span_id
    assert rejoin.links == ((sweep.trace_id, sweep.span_id),)

    # Marketo's and S3's calls are spans under the load's task spans.
    run_ids = {s.span_id for s in runs}
    marketo = [s for s in spans if s.name.startswith("marketo ")]
    s3 = [s for s in spans if s.attributes.get("rpc.service") == "S3"]
    assert {s.name for s in marketo} >= {
        "marketo POST /identity/oauth/token",
        "marketo POST /bulk/v1/leads.json",
    }
    assert s3, "the split's reads and writes, the report"
    for call in marketo + s3:
        assert call.trace_id == etl_trace, call
        assert run_ids & {a.span_id for a in _ancestors(call, by_id)}, call
    submit = next(s for s in marketo if s.name == "marketo POST /bulk/v1/leads.json")
    assert submit.attributes["http.response.status_code"] == 200
    assert "?" not in submit.attributes["url.full"]

    # The callback message carries the load's trace to the ETL.
    (message,) = [json.loads(raw) for raw in pipeline.redis.lrange("etl", 0, -1)]
    assert message["headers"]["traceparent"].split("-")[1] == etl_trace
    _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert kwargs["report"]["load_id"] == load_id

    # Log lines of the load's steps name the trace they are in.
    records = [json.loads(line) for line in pipeline.logs().splitlines()]
    stepped = [r for r in records if r.get("load_id") == load_id and r["process"] != "MainProcess"]
    assert stepped and {r.get("trace_id") for r in stepped} == {etl_trace}

    # No secret in any span: every exported byte.
    cached = json.loads(pipeline.redis.get(redis_keys.token(SANDBOX_CLIENT_ID)) or "{}")
    token = str(cached["token"])
    exported = collector.raw()
    assert SANDBOX_CLIENT_SECRET.encode() not in exported
    assert token.encode() not in exported
