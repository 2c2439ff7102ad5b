"""Marketo's usage report: what other integrations used of the daily quota lowers our share.

Against the sandbox over HTTP and a real Redis; the last test runs beat and a worker.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from beat_schedule import beat_schedule
from infra.sandbox.usage import api_user
from tests.marketo_helpers import make_client
from tests.pipeline_helpers import Pipeline
from tests.sandbox_helpers import admin
from tests.services import Service, wait_for
from workers.errors import DailyQuotaExhausted
from workers.marketo import BudgetLimits, MarketoClient
from workers.marketo.budgets import marketo_day
from workers.marketo.usage import load, read_usage, save

INSTANCE = "test-instance"
OTHER = "crm-sync@example.com"
DESCRIBE = "/rest/v1/leads/describe.json"
MKTO_BULK = str(Path(sys.executable).with_name("mkto-bulk"))


def _today() -> str:
    return marketo_day(time.time()).isoformat()


def _client(sandbox: Service, redis_url: str, quota: int = 100, reserve: int = 10) -> MarketoClient:
    limits = BudgetLimits(daily_quota=quota, daily_quota_reserve=reserve)
    return make_client(sandbox, redis_url, limits=limits, instance=INSTANCE)


def _use_up(client: MarketoClient) -> int:
    """Our calls until the share refuses one; how many went through."""
    made = 0
    while True:
        permit, _ = client.budgets.try_acquire()
        assert permit is not None
        client.budgets.release(permit)
        made += 1


def test_others_are_the_total_minus_our_count_and_their_excess_comes_off_our_share(
    sandbox: Service, redis_url: str
) -> None:
    client = _client(sandbox, redis_url)
    for _ in range(3):
        client.request_json("GET", DESCRIBE)
    admin(sandbox, "POST", "/_sandbox/usage", {"user": OTHER, "calls": 60})

    reading = read_usage(client, api_user=None)
    save(client.redis, INSTANCE, _today(), reading)

    assert (reading.total, reading.ours, reading.others) == (64, 4, 60)  # 4: the report too
    assert load(client.redis, INSTANCE, _today()) == reading
    assert client.budgets.daily_limit() == 40  # 100 - 60: the others took 50 beyond the reserve
    with pytest.raises(DailyQuotaExhausted) as refused:
        _use_up(client)
    assert client.budgets.daily_count() == 40
    assert "(40 of 40 calls, other integrations used 60 today, more than the 10 kept in " in str(
        refused.value
    )


def test_with_our_api_user_named_the_report_alone_says_what_is_ours(
    sandbox: Service, redis_url: str
) -> None:
    client = _client(sandbox, redis_url)
    client.request_json("GET", DESCRIBE)
    admin(sandbox, "POST", "/_sandbox/usage", {"user": OTHER, "calls": 30})
    client.redis.delete(client.budgets.daily_key())  # our own count lost: it does not matter

    reading = read_usage(client, api_user=api_user(sandbox.extra["client_id"]).upper())

    assert (reading.total, reading.ours, reading.others) == (32, 2, 30)


def test_others_within_the_reserve_leave_our_share_as_it_was(
    sandbox: Service, redis_url: str
) -> None:
    client = _client(sandbox, redis_url)
    admin(sandbox, "POST", "/_sandbox/usage", {"user": OTHER, "calls": 8})
    save(client.redis, INSTANCE, _today(), read_usage(client, api_user=None))
    assert client.budgets.others_today() == 8
    assert client.budgets.daily_limit() == 90


def test_beat_reads_the_report_at_its_interval_and_only_when_asked() -> None:
    entry = beat_schedule(20, usage_check_s=600)["mkto-bulk-marketo-usage"]
    assert entry == {"task": "mkto_bulk.marketo_usage", "schedule": 600,
                     "options": {"expires": 600}}  # fmt: skip
    assert "mkto-bulk-marketo-usage" not in beat_schedule(20, usage_check_s=0)


def _metrics(env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run([MKTO_BULK, "metrics", "--once"], env=env, capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(done.stdout)
        for sample in family.samples
    }


def test_the_fleet_follows_the_others_usage_in_its_metrics_and_share(
    pipeline_with: Callable[..., Pipeline], sandbox: Service
) -> None:
    quota = {"MARKETO_DAILY_QUOTA": "1000", "MARKETO_DAILY_QUOTA_RESERVE": "100"}
    pipeline = pipeline_with(MARKETO_USAGE_CHECK_S="1", MARKETO_INSTANCE=INSTANCE, **quota)
    client = redis.Redis.from_url(pipeline.redis_url)
    admin(sandbox, "POST", "/_sandbox/usage", {"user": OTHER, "calls": 400})
    pipeline.start_worker("a", queues="mkto_marketo")
    pipeline.start_beat()

    def others() -> int:
        reading = load(client, INSTANCE, _today())
        return reading.others if reading else -1

    wait_for(lambda: others() == 400, timeout=60, interval=0.2, what="beat to read the report")
    metrics = _metrics(pipeline.env)
    assert metrics["mkto_bulk_marketo_daily_calls_used_by_others"] == 400
    assert metrics["mkto_bulk_marketo_daily_share"] == 600
    assert metrics["mkto_bulk_marketo_usage_read_timestamp_seconds"] > time.time() - 60
    shown = subprocess.run([MKTO_BULK, "quota", "show"], env=pipeline.env, capture_output=True,
                           text=True, timeout=60, check=True).stdout  # fmt: skip
    assert "others used: 400 today (Marketo's usage report, read " in shown
    assert "our share:   600;" in shown

    admin(sandbox, "POST", "/_sandbox/usage", {"user": OTHER, "calls": 300})
    wait_for(lambda: others() == 700, timeout=60, interval=0.2, what="the next reading")
    assert _metrics(pipeline.env)["mkto_bulk_marketo_daily_share"] == 300
