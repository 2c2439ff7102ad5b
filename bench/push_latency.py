"""Push-queue benchmark: records pushed at a steady rate, how long until Marketo has them.

A producer pushes ``--rate`` records per second (in pushes of ``--batch``) for
``--duration`` seconds by task name, as an ETL does, to ``--workers`` worker
processes and beat, on a private Redis and S3 endpoint, against the sandbox's
Data Ingestion API (records applied ``--apply-delay`` s after each 202, as
Marketo applies them asynchronously). Halfway through, one worker is SIGKILLed
(``--kill-at``; a supervisor starts a new one at once). It prints:

- p50 / p99 / max latency from a record's push to its request being applied in
  the sandbox's store (``applied_at`` in the admin API; target p99 <= maxAgeS + 5 s);
- requests per record (target <= 1/900 with full batches);
- records lost: pushed and answered, but not in the store (target 0), and the
  records sent twice because a flusher died while sending them.

A push is durable once its answer is back. A push whose worker was killed
before answering gets no answer (its message returns only after the broker's
visibility timeout), so the producer pushes it again after ``--resend-after``
seconds, as a producer should: records are upserts.

    .venv/bin/python bench/push_latency.py                      # 1,000 records/s for 2 minutes
    .venv/bin/python bench/push_latency.py --duration 30        # shorter
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MUNCHKIN_ID = "123-ABC-456"  # the sandbox's
QUEUE_ID_CHARS = 20  # a batch id is "<queue id>-<its first stream entry id>"


def admin(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path, timeout=30) as response:
        return json.loads(response.read())


@dataclass
class Push:
    """One push of records ``first`` .. ``first + count - 1``, by producer sequence number."""

    first: int
    count: int
    pushed_at: float
    results: list[Any] = field(default_factory=list)
    resent_at: float = 0.0


def records(first: int, count: int) -> list[dict[str, Any]]:
    return [
        {"email": f"stream{n}@example.com", "firstName": f"S{n}", "lastName": "bench",
         "leadScore": n}
        for n in range(first, first + count)
    ]  # fmt: skip


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def stored_at(sandbox_url: str) -> tuple[list[float], int, int]:
    """When each record (in push order) was first applied, requests accepted, and unique batches.

    The flusher sends records in push order, in batches whose id (the request's
    correlation id) names the batch's first stream entry; a batch sent again after a
    crash has the same id, and counts once, at its first apply.
    """
    requests = admin(sandbox_url, "/_sandbox/ingestion/requests?status=applied")["requests"]
    first: dict[str, dict[str, Any]] = {}
    for request in requests:
        known = first.get(request["correlation_id"])
        if known is None or request["applied_at"] < known["applied_at"]:
            first[request["correlation_id"]] = request

    def entry_order(batch_id: str) -> tuple[int, int]:
        milliseconds, _, sequence = batch_id[QUEUE_ID_CHARS + 1 :].partition("-")
        return int(milliseconds), int(sequence)

    times: list[float] = []
    for batch_id in sorted(first, key=entry_order):
        times += [float(first[batch_id]["applied_at"])] * int(first[batch_id]["objects"])
    return times, len(requests), len(first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1_000, help="records per second")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of pushing")
    parser.add_argument("--batch", type=int, default=100, help="records per push")
    parser.add_argument("--max-age", type=float, default=60.0, help="the pushes' maxAgeS")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-at", type=float, default=None,
                        help="seconds into the run to SIGKILL a worker [half the duration]; "
                             "negative: no kill")  # fmt: skip
    parser.add_argument("--apply-delay", type=float, default=1.0)
    parser.add_argument("--resend-after", type=float, default=20.0)
    args = parser.parse_args()
    kill_at = args.duration / 2 if args.kill_at is None else args.kill_at

    from tests.pipeline_helpers import Pipeline, pipeline_env
    from tests.services import start_redis, start_s3, start_sandbox, wait_for
    from workers.state import keys as redis_keys

    work = Path(tempfile.mkdtemp(prefix="mkto-push-bench-"))
    services = [start_redis(work), start_s3(work)]
    redis_service, s3 = services
    sandbox = start_sandbox(work, "--ingestion-apply-delay", str(args.apply_delay))
    services.append(sandbox)
    pipeline: Pipeline | None = None
    try:
        ingestion = {"MARKETO_INGESTION_URL": sandbox.url, "MARKETO_MUNCHKIN_ID": MUNCHKIN_ID}
        env = pipeline_env(redis_service.url, s3, sandbox, "bench", **ingestion)
        pipeline = Pipeline(env, redis_service.url, "bench", work)
        for n in range(args.workers):
            pipeline.start_worker(f"bench{n}", concurrency=2)
        pipeline.wait_ready()
        pipeline.start_beat()
        producer = pipeline.celery()

        def send(push: Push) -> None:
            payload = {"object": "leads", "maxAgeS": args.max_age,
                       "records": records(push.first, push.count)}  # fmt: skip
            push.results.append(producer.send_task("mkto_bulk.push_records", kwargs=payload))

        pushes: list[Push] = []
        interval = args.batch / args.rate
        began = time.time()
        killed = kill_at < 0
        sequence = 0
        while time.time() - began < args.duration:
            push = Push(sequence, args.batch, time.time())
            send(push)
            pushes.append(push)
            sequence += args.batch
            if not killed and time.time() - began >= kill_at:
                pipeline.kill_worker(pipeline.workers[0])
                pipeline.start_worker("replacement", concurrency=2)
                killed = True
            time.sleep(max(0.0, began + len(pushes) * interval - time.time()))
        pushing_s = time.time() - began

        def answered() -> bool:
            now = time.time()
            for push in pushes:
                if not any(r.ready() for r in push.results):
                    if now - (push.resent_at or push.pushed_at) > args.resend_after:
                        push.resent_at = now
                        send(push)
                    return False
            return True

        wait_for(answered, timeout=600, interval=0.5, what="every push to be answered")
        total = sequence
        accepted = sum(next(r for r in p.results if r.ready()).get()["accepted"] for p in pushes)

        def stored() -> bool:
            return int(admin(sandbox.url, "/_sandbox/records/leads")["count"]) >= total

        wait_for(stored, timeout=args.max_age + 120, interval=0.5, what="every record stored")
        first_answer = next(r for r in pushes[0].results if r.ready()).get()
        instance = sandbox.url.removeprefix("http://")  # the workers' MARKETO_INSTANCE default
        key = redis_keys.push_queue(instance, first_answer["queue"])
        raw: dict[Any, Any] = pipeline.redis.hgetall(key)
        meta = {bytes(k).decode(): bytes(v).decode() for k, v in raw.items()}
        # The queue holds records in the order they were appended: a push whose worker died
        # before appending it was appended only when pushed again.
        resent = [p for p in pushes if p.resent_at]
        originals_lost = bool(resent) and int(meta.get("pushed") or 0) == total
        order = sorted(pushes, key=lambda p: p.resent_at if originals_lost and p.resent_at
                       else p.pushed_at)  # fmt: skip
        pushed_at = [p.pushed_at for p in order for _ in range(p.count)]
        times, requests, batches = stored_at(sandbox.url)
        latencies = [t - pushed for t, pushed in zip(times, pushed_at, strict=False)]
        count = int(admin(sandbox.url, "/_sandbox/records/leads")["count"])
        result = {
            "records_pushed": total,
            "records_accepted": accepted,
            "pushes": len(pushes),
            "pushes_resent": len(resent),
            "resent_pushes_first_attempt_lost": originals_lost,
            "pushing_s": round(pushing_s, 1),
            "rate_records_per_s": round(total / pushing_s),
            "max_age_s": args.max_age,
            "worker_killed_at_s": None if kill_at < 0 else kill_at,
            "latency_p50_s": round(statistics.median(latencies), 2),
            "latency_p99_s": round(percentile(latencies, 0.99), 2),
            "latency_max_s": round(max(latencies), 2),
            "requests": requests,
            "batches": batches,
            "requests_per_record": f"1/{total / max(requests, 1):.0f}",
            "records_stored": count,
            "records_lost": total - count,
            "records_repeated": int(meta.get("repeated") or 0),
        }
        print(json.dumps(result, indent=2))
        print(
            f"p50 {result['latency_p50_s']} s, p99 {result['latency_p99_s']} s "
            f"(target <= {args.max_age + 5:g} s), requests per record "
            f"{result['requests_per_record']} (target <= 1/900), lost {result['records_lost']} "
            f"(target 0), sent twice after the kill {result['records_repeated']}"
        )
    finally:
        if pipeline is not None:
            pipeline.stop()
        for service in reversed(services):
            service.stop()


if __name__ == "__main__":
    main()
