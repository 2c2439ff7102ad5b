"""`mkto-bulk metrics`: each queue's messages waiting in the broker, and the workers consuming it.

Real Redis, real messages sent by task name, a real worker process; the exporter is the CLI.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import redis
import requests
from celery import Celery

from tests.metrics_helpers import MKTO_BULK, ROOT, exporter, metrics_env, samples, worker
from tests.services import wait_for
from workers.broker_metrics import queue_lists

# Sent through the Celery app's own routes, by task name, as beat, an ETL or a step sends them.
SEND_THROUGH_OUR_ROUTES = """
from workers.celery_app import app
for _ in range(3):
    app.send_task("mkto_bulk.start_load", kwargs={"source": "s3://b/k.csv", "object": "leads"})
app.send_task("mkto_bulk.split_source", args=["load-1"])
app.send_task("mkto_bulk.split_source", args=["load-2"])
app.send_task("mkto_bulk.split_source", args=["load-3"], priority=9)
app.send_task("mkto_bulk.submit_chunk", args=["load-1", 0])
app.send_task("mkto_bulk.poll_chunk", args=["load-1", 0, "token"])
app.send_task("mkto_bulk.finish_load", args=["load-1"], priority=3)
app.send_task("mkto_bulk.pump")
"""


def _scrape(redis_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    done = subprocess.run(
        [MKTO_BULK, "metrics", "--once"],
        env=metrics_env(redis_url), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return samples(done.stdout)


def _per_queue(
    scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str
) -> dict[str, float]:
    return {dict(labels)["queue"]: value for (metric, labels), value in scrape.items()
            if metric == name}  # fmt: skip


def test_queue_length_counts_the_messages_no_worker_took_at_every_priority(redis_url: str) -> None:
    sent = subprocess.run(
        [sys.executable, "-c", SEND_THROUGH_OUR_ROUTES],
        env=metrics_env(redis_url), cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    client = redis.Redis.from_url(redis_url)
    # The prioritised messages sit in kombu's suffixed lists, which a plain LLEN misses.
    assert client.llen("mkto_split") == 2 and client.llen(queue_lists("mkto_split")[-1]) == 1
    assert client.llen("mkto_poll") == 2, "pump and poll_chunk; finish_load went to a suffixed list"

    lengths = _per_queue(_scrape(redis_url), "mkto_bulk_broker_queue_length")

    assert lengths == {"celery": 3, "mkto_split": 3, "mkto_marketo": 1, "mkto_poll": 3}


def test_workers_per_queue_are_those_that_answer_and_fall_to_zero_when_they_stop(
    redis_url: str, tmp_path: Path
) -> None:
    env = metrics_env(redis_url)
    etl = Celery(broker=redis_url, set_as_current=False)
    for _ in range(2):  # payloads the step refuses at once: the worker needs no Marketo or S3
        etl.send_task("mkto_bulk.start_load", kwargs={})
    with exporter(env, tmp_path) as url:

        def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            return samples(requests.get(url, timeout=30).text)

        before = scrape()
        assert _per_queue(before, "mkto_bulk_queue_workers")["celery"] == 0
        assert _per_queue(before, "mkto_bulk_broker_queue_length")["celery"] == 2

        with worker(env, tmp_path, "entry-and-poll", "celery,mkto_poll"):
            client = redis.Redis.from_url(redis_url)
            wait_for(lambda: client.llen("celery") == 0, timeout=60, what="the worker to take both")
            during = scrape()
            workers = _per_queue(during, "mkto_bulk_queue_workers")
            assert workers == {"celery": 1, "mkto_split": 0, "mkto_marketo": 0, "mkto_poll": 1}
            assert _per_queue(during, "mkto_bulk_broker_queue_length")["celery"] == 0

        workers = _per_queue(scrape(), "mkto_bulk_queue_workers")
        assert workers == {"celery": 0, "mkto_split": 0, "mkto_marketo": 0, "mkto_poll": 0}
