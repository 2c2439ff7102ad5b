"""`mkto-bulk metrics`: what operators alert on, read from the fleet's Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.services import free_port, wait_for
from workers.marketo.ingestion_budgets import IngestionBudgets, IngestionLimits
from workers.marketo.metrics import Metrics
from workers.state.admission import Admission
from workers.state.ledger import Ledger, LoadState
from workers.state.records import LoadFields

INSTANCE = "metrics-test"
MKTO_BULK = str(Path(sys.executable).with_name("mkto-bulk"))


def _env(redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETO_", "REDIS_"))}
    env.update(REDIS_URL=redis_url, MARKETO_INSTANCE=INSTANCE, MARKETO_DAILY_QUOTA="10000",
               MARKETO_DAILY_QUOTA_RESERVE="2000")  # fmt: skip
    return env


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def fleet(redis_url: str) -> redis.Redis:
    """A fleet's Redis: a finished load, a live one, a stuck one, jobs in Marketo, a 1016."""
    client = redis.Redis.from_url(redis_url)
    an_hour_ago = time.time() - 3600
    Ledger(client, clock=lambda: an_hour_ago).create_load("stuck", {"source": "s3://b/old"})
    ledger = Ledger(client)
    ledger.create_load("moving", {"source": "s3://b/new"})
    ledger.update_load("moving", [LoadState.PENDING], LoadState.SPLITTING)
    ledger.create_load("done", {"source": "s3://b/done"})
    ledger.update_load("done", [LoadState.PENDING], LoadState.FAILED)
    admission = Admission(client, INSTANCE, max_outstanding=2)
    for index in range(3):
        admission.enqueue(f"moving:{index}")
    admission.grant()
    lane = Admission(client, f"{INSTANCE}:ingestion", max_outstanding=4)  # ingestion's own line
    lane.enqueue("ingesting:0")
    lane.grant()
    IngestionBudgets(
        client, instance=INSTANCE, client_id="mkto-bulk", limits=IngestionLimits()
    ).try_acquire(1000)
    metrics = Metrics(client, INSTANCE)
    metrics.add({"calls": 40, "retries": 3})
    metrics.code("1016")
    metrics.code("1016")
    metrics.code("606")
    return client


def test_metrics_once_shows_stuck_loads_jobs_held_quota_share_and_1016s(
    fleet: redis.Redis, redis_url: str
) -> None:
    done = subprocess.run(
        [MKTO_BULK, "metrics", "--once"],
        env=_env(redis_url), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    samples = _samples(done.stdout)
    instance = (("instance", INSTANCE),)
    assert samples[("mkto_bulk_loads", (("state", "pending"),))] == 1
    assert samples[("mkto_bulk_loads", (("state", "splitting"),))] == 1
    assert samples[("mkto_bulk_loads", (("state", "failed"),))] == 1
    assert samples[("mkto_bulk_loads_stuck", ())] == 1, "only the load quiet for an hour"
    assert samples[("mkto_bulk_load_quiet_seconds_max", ())] >= 3500
    assert samples[("mkto_bulk_import_jobs_outstanding", instance)] == 2
    assert samples[("mkto_bulk_chunks_waiting", instance)] == 1
    by_priority = {
        dict(k[1])["priority"]: v
        for k, v in samples.items()
        if k[0] == "mkto_bulk_chunks_waiting_by_priority"
    }
    assert by_priority == {"high": 0, "normal": 1, "low": 0}
    assert samples[("mkto_bulk_marketo_daily_share", instance)] == 8000
    lanes = {k[1]: v for k, v in samples.items() if k[0] == "mkto_bulk_lane_chunks_in_flight"}
    assert lanes == {
        (("api", "bulk"), ("instance", INSTANCE)): 2,
        (("api", "ingestion"), ("instance", INSTANCE)): 1,
    }
    assert samples[("mkto_bulk_ingestion_daily_objects", instance)] == 1000
    assert samples[("mkto_bulk_ingestion_daily_share", instance)] == 5_000_000
    assert samples[("mkto_bulk_marketo_calls_total", instance)] == 40
    codes = (("code", "1016"), ("instance", INSTANCE))
    assert samples[("mkto_bulk_marketo_error_codes_total", codes)] == 2


def test_metrics_are_served_over_http_for_prometheus(fleet: redis.Redis, redis_url: str) -> None:
    port = free_port()
    process = subprocess.Popen(
        [MKTO_BULK, "metrics", "--address", "127.0.0.1", "--port", str(port)],
        env=_env(redis_url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/metrics"

    def answered() -> bool:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            return requests.get(url, timeout=10).status_code == 200  # a scrape waits on inspect
        except requests.RequestException:
            return False

    try:
        wait_for(answered, timeout=30, interval=0.1, what="the metrics endpoint")
        Metrics(fleet, INSTANCE).code("1016")  # read again at every scrape
        samples = _samples(requests.get(url, timeout=5).text)
        codes = (("code", "1016"), ("instance", INSTANCE))
        assert samples[("mkto_bulk_marketo_error_codes_total", codes)] == 3
    finally:
        process.terminate()
        process.wait(10)


def _at(client: redis.Redis, when: float) -> Ledger:
    return Ledger(client, clock=lambda: when)


def _loading(client: redis.Redis, load_id: str, since: float, chunk_moved: float) -> None:
    """A load in ``loading`` since ``since``, whose one chunk last moved at ``chunk_moved``."""
    _at(client, since).create_load(load_id, {"source": f"s3://b/{load_id}"})
    _at(client, since).update_load(load_id, [LoadState.PENDING], LoadState.LOADING)
    _at(client, since).add_chunk(load_id, 0, {"uri": f"s3://b/{load_id}/0.csv", "rows": 10})
    _at(client, chunk_moved).move_chunk(load_id, 0, ["waiting"], "submitting")


def test_a_load_whose_chunks_move_is_not_stuck_and_a_wait_for_the_quota_counts_from_the_reset(
    redis_url: str,
) -> None:
    client = redis.Redis.from_url(redis_url)
    now = time.time()
    hours = 3600.0
    # loading for two hours, its chunks still moving: not stuck, though the load's own record is old
    _loading(client, "moving", since=now - 2 * hours, chunk_moved=now - 60)
    # loading, but nothing has moved for an hour: stuck
    _loading(client, "quiet", since=now - 3 * hours, chunk_moved=now - hours)
    # waiting for a reset an hour away: not stuck, however long it has been quiet
    _loading(client, "waiting", since=now - 5 * hours, chunk_moved=now - 5 * hours)
    Ledger(client).mark_waiting("waiting", "daily_quota")
    Ledger(client).set_load_fields("waiting", {"waiting_until": now + hours})
    # still waiting 40 minutes after the reset it waited for: stuck, quiet since the reset
    _loading(client, "waited", since=now - 5 * hours, chunk_moved=now - 5 * hours)
    Ledger(client).mark_waiting("waited", "daily_quota")
    Ledger(client).set_load_fields("waited", {"waiting_until": now - 2400})
    # ended: the latest failed one's finish is the time the failed-load alert reads
    for load_id, finished in (("failed-early", now - 2 * hours), ("failed-late", now - 600)):
        _at(client, now - 3 * hours).create_load(load_id, {"source": f"s3://b/{load_id}"})
        fields: LoadFields = {"finished_at": finished}
        _at(client, finished).update_load(load_id, [LoadState.PENDING], LoadState.FAILED, fields)

    done = subprocess.run(
        [MKTO_BULK, "metrics", "--once"],
        env=_env(redis_url), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    samples = _samples(done.stdout)

    assert samples[("mkto_bulk_loads", (("state", "loading"),))] == 4
    assert samples[("mkto_bulk_loads_waiting", (("reason", "daily_quota"),))] == 2
    assert samples[("mkto_bulk_loads_stuck", ())] == 2, "quiet and waited, not moving or waiting"
    assert hours - 5 <= samples[("mkto_bulk_load_quiet_seconds_max", ())] <= hours + 120
    ended = "mkto_bulk_load_last_ended_timestamp_seconds"
    assert samples[(ended, (("state", "failed"),))] == pytest.approx(now - 600)
    assert samples[(ended, (("state", "succeeded"),))] == 0, "none succeeded"
