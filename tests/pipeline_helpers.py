"""Real Celery worker processes wired to the test Redis, S3 endpoint and sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from celery import Celery

from tests.marketo_helpers import SANDBOX_MUNCHKIN_ID
from tests.services import (
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    Service,
    wait_for,
)
from workers.redis_clients import celery_redis_conf, redis_client
from workers.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
QUEUES = "celery,mkto_split,mkto_marketo,mkto_poll"
TERMINAL = {"succeeded", "succeeded_with_row_errors", "failed", "counts_mismatch", "cancelled"}


@dataclass
class Pipeline:
    """Everything a pipeline test needs: env for workers, a client, and the workers it started."""

    env: dict[str, str]
    redis_url: str
    bucket: str
    logdir: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    beats: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _started: dict[int, tuple[str, int]] = field(default_factory=dict)
    _sentinel_client: redis.Redis | None = None

    @property
    def redis(self) -> redis.Redis:
        if "REDIS_SENTINEL_MASTER" not in self.env:
            return redis.Redis.from_url(self.redis_url)
        if self._sentinel_client is None:  # the primary Sentinel names, as the workers find it
            self._sentinel_client = redis_client(self.redis_settings())
        return self._sentinel_client

    def redis_settings(self) -> Settings:
        """The workers' Redis settings (REDIS_URL and, with Sentinel, its master and password)."""
        names = ("REDIS_URL", "REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD")
        return Settings.model_validate({n.lower(): self.env[n] for n in names if n in self.env})

    def celery(self) -> Celery:
        """An ETL's view: a bare Celery app on the same broker that only knows task names."""
        if "REDIS_SENTINEL_MASTER" not in self.env:
            return Celery(broker=self.redis_url, backend=self.redis_url)
        conf = celery_redis_conf(self.redis_settings(), {})
        app = Celery(broker=conf["broker_url"], backend=conf["result_backend"])
        app.conf.update(
            broker_transport_options=conf["broker_transport_options"],
            result_backend_transport_options=conf["result_backend_transport_options"],
        )
        return app

    def start_worker(self, name: str, concurrency: int = 2, queues: str = QUEUES) -> None:
        """Start ``celery worker`` in its own process group (its log: worker-<name>.log)."""
        argv = [
            sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", queues,
            "-c", str(concurrency), "-n", f"{name}@%h", "--without-mingle", "--without-gossip",
            "-l", "info",
        ]  # fmt: skip
        log = (self.logdir / f"worker-{name}.log").open("ab")
        process = subprocess.Popen(
            argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.workers.append(process)
        self._started[process.pid] = (name, concurrency)

    def wait_ready(self, count: int | None = None, timeout: float = 60) -> None:
        """Wait until ``count`` workers (default: all started) answer a ping."""
        wanted = len(self.workers) if count is None else count
        app = self.celery()

        def answered() -> bool:
            return len(app.control.ping(timeout=0.5) or []) >= wanted

        wait_for(answered, timeout=timeout, interval=0.2, what=f"{wanted} workers to be ready")

    def start_beat(self, name: str = "beat", **env: str) -> subprocess.Popen[bytes]:
        """``celery -A workers beat`` (redbeat: its schedule and lock live in the test Redis).

        Its log is worker-<name>.log; ``env`` adds variables (SCHEDULE_FILE, ...).
        """
        argv = [sys.executable, "-m", "celery", "-A", "workers", "beat", "-l", "info"]
        log = (self.logdir / f"worker-{name}.log").open("ab")
        process = subprocess.Popen(
            argv, env={**self.env, **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.beats.append(process)
        return process

    def kill_worker(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker's whole process group: main process and pool children."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        self.workers.remove(process)

    def stop(self) -> None:
        for beat in self.beats:
            if beat.poll() is None:
                os.killpg(beat.pid, signal.SIGKILL)
                beat.wait(10)
        self.beats.clear()
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.workers.clear()

    def start_load(self, **payload: Any) -> str:
        result = self.celery().send_task("mkto_bulk.start_load", kwargs=payload)
        answer = result.get(timeout=60)
        return str(answer["load_id"])

    def load(self, load_id: str) -> dict[str, str]:
        return _decoded(self.redis.hgetall(f"mkto:load:{load_id}"))

    def restart_exited_workers(self) -> int:
        """What a supervisor (systemd, Kubernetes) does: start again every worker that exited."""
        exited = [p for p in self.workers if p.poll() is not None]
        for process in exited:
            self.workers.remove(process)
            name, concurrency = self._started[process.pid]
            self.start_worker(name, concurrency)
        return len(exited)

    def wait_until_finished(
        self, load_id: str, timeout: float = 180, *, supervise: bool = False
    ) -> dict[str, str]:
        def finished() -> bool:
            if supervise:
                self.restart_exited_workers()
            return self.load(load_id).get("state") in TERMINAL

        wait_for(
            finished,
            timeout=timeout,
            interval=0.2,
            what=f"load {load_id} to finish (workers' logs in {self.logdir})",
        )
        return self.load(load_id)

    def chunk(self, load_id: str, index: int | str) -> dict[str, str]:
        return _decoded(self.redis.hgetall(f"mkto:load:{load_id}:chunk:{index}"))

    def chunks(self, load_id: str) -> list[dict[str, str]]:
        indexes = sorted(int(i) for i in self.redis.smembers(f"mkto:load:{load_id}:chunks"))
        chunks = []
        for index in indexes:
            chunks.append(self.chunk(load_id, index))
        return chunks

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logdir.glob("worker-*.log"))


def _decoded(raw: Any) -> dict[str, str]:
    return {bytes(k).decode(): bytes(v).decode() for k, v in dict(raw).items()}


def pipeline_env(
    redis_url: str, s3: Service, sandbox: Service, bucket: str, **overrides: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETO_", "REDIS_"))}
    env.update(
        REDIS_URL=redis_url,
        MARKETO_REST_URL=sandbox.url,
        MARKETO_INGESTION_URL=sandbox.url,
        MARKETO_MUNCHKIN_ID=SANDBOX_MUNCHKIN_ID,
        MARKETO_CLIENT_ID=SANDBOX_CLIENT_ID,
        MARKETO_CLIENT_SECRET=SANDBOX_CLIENT_SECRET,
        S3_ENDPOINT_URL=s3.url,
        AWS_ACCESS_KEY_ID=S3_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=S3_SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
        STAGING_URI=f"s3://{bucket}/loads",
        POLL_MIN_S="0.2",
        POLL_MAX_S="1.5",
        MARKETO_RATE_LIMIT_CALLS="100",
        # Beat reads Marketo's usage report only in the tests that ask for it: the
        # others' sandbox call counts stay what they were.
        MARKETO_USAGE_CHECK_S="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def put_dataset(s3_client: Any, bucket: str, key: str, body: str | bytes) -> str:
    data = body.encode() if isinstance(body, str) else body
    s3_client.put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}"


# Settings under which what a SIGKILLed worker or a lost Redis held (permits, the split lease,
# Marketo call slots) comes free in seconds, and the reconciler looks every second.
FAST_RECOVERY = {
    "CHUNK_BYTE_LIMIT": "4096",
    "PERMIT_LEASE_S": "3",
    "SPLIT_LEASE_S": "3",
    "SPLIT_LEASE_RENEW_S": "0.5",
    "MARKETO_CONNECT_TIMEOUT_S": "1",
    "MARKETO_READ_TIMEOUT_S": "2",
    "MARKETO_CALL_LEASE_S": "3.5",
    "RECONCILE_INTERVAL_S": "1",
}

# The tasks every load runs, in order: what Flower, the logs and a trace must all show.
LOAD_STEPS = frozenset(
    {
        "mkto_bulk.start_load",
        "mkto_bulk.split_source",
        "mkto_bulk.submit_chunk",
        "mkto_bulk.poll_chunk",
        "mkto_bulk.collect_chunk",
        "mkto_bulk.finish_load",
    }
)


def assert_rows_accounted(report: dict[str, Any]) -> None:
    """Every input row is submitted, rejected, skipped (blank), not submitted or cancelled
    (never sent); every submitted row has an outcome."""
    totals = report["totals"]
    accounted = (
        totals["rows_submitted"]
        + totals["rows_rejected"]
        + totals["rows_not_submitted"]
        + totals["rows_skipped"]
        + totals["rows_cancelled"]
    )
    assert totals["rows_read"] == accounted, totals
    outcome = totals["rows_processed"] + totals["rows_failed"] + totals["rows_in_failed_jobs"]
    assert totals["rows_submitted"] == outcome, totals
    submitted = [
        c
        for c in report["chunks"]
        if c["state"] not in ("failed", "cancelled") or (c["state"] == "failed" and c["batch_id"])
    ]
    assert totals["rows_submitted"] == sum(c["rows"] for c in submitted), totals
    cancelled = [c for c in report["chunks"] if c["state"] == "cancelled"]
    assert totals["rows_cancelled"] == sum(c["rows"] for c in cancelled), totals
    assert all(c["batch_id"] is None for c in cancelled), cancelled
    for chunk in report["chunks"]:
        if chunk["state"] == "done":
            assert chunk["rows"] == chunk["processed"] + chunk["failed"], chunk
    sending = report.get("sending")  # a request-based API's account (Data Ingestion)
    if sending is not None:
        assert sending["rows_read"] == (
            sending["rows_skipped"]
            + sending["rows_rejected_before_sending"]
            + sending["rows_sent"]
            + sending["rows_not_sent"]
        ), sending
        assert sending["rows_sent"] == (
            sending["rows_accepted"] + sending["rows_in_refused_requests"]
        ), sending


def read_object(s3_client: Any, uri: str) -> bytes:
    """The bytes of an ``s3://bucket/key`` object (a report, a failures or results file)."""
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bytes(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())


def read_report(s3_client: Any, report_uri: str) -> dict[str, Any]:
    return dict(json.loads(read_object(s3_client, report_uri)))


def lead_rows(count: int, *, start: int = 0) -> Iterator[str]:
    for n in range(start, start + count):
        yield f'lead{n}@example.com,First{n},"Last, {n}",{20 + n % 50}\n'


class RecordingDispatcher:
    """A dispatcher that only records the next steps a step asked for (name, args)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self.calls.append((name, args))
