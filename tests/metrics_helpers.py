"""Real processes for the metrics tests: `mkto-bulk metrics`, Celery workers and Flower on a Redis.

None of them calls Marketo or S3 here: a worker needs Marketo settings to start,
so it gets a REST URL nothing listens on; the tasks the tests send it fail at
validation, before any call.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.services import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
MKTO_BULK = str(Path(sys.executable).with_name("mkto-bulk"))
INSTANCE = "metrics-test"
CLIENT_SECRET = "metrics-test-secret-never-shown-5d1c"


def metrics_env(redis_url: str, **overrides: str) -> dict[str, str]:
    """Settings for the exporter, a worker and Flower on ``redis_url`` (no Marketo behind them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETO_", "REDIS_"))}
    env.update(
        REDIS_URL=redis_url,
        MARKETO_INSTANCE=INSTANCE,
        MARKETO_REST_URL="http://127.0.0.1:9",
        MARKETO_CLIENT_ID="metrics-test-client",
        MARKETO_CLIENT_SECRET=CLIENT_SECRET,
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A scrape's samples by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def served_names(text: str) -> set[str]:
    """Every series name a scrape declares, with or without samples yet (a labelled family
    that has none still has its HELP and TYPE lines)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process in its own process group, logging to ``log``, stopped on exit."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop(process)


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    def answered() -> bool:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_for(answered, timeout=60, interval=0.2, what=what)


@contextlib.contextmanager
def exporter(env: dict[str, str], logdir: Path, *args: str) -> Iterator[str]:
    """``mkto-bulk metrics`` served on a free loopback port; yields its /metrics URL."""
    port = free_port()
    argv = [MKTO_BULK, "metrics", "--address", "127.0.0.1", "--port", str(port), *args]
    log = logdir / "exporter.log"
    url = f"http://127.0.0.1:{port}/metrics"
    with running(argv, env, log) as process:
        wait_http(url, process, log, "the metrics endpoint")
        yield url


def worker_argv(name: str, queues: str) -> list[str]:
    """``celery -A workers worker`` named ``name@<host>``, one pool process, on ``queues``."""
    return [
        sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", queues, "-c", "1",
        "-n", f"{name}@%h", "--without-mingle", "--without-gossip", "-l", "info",
    ]  # fmt: skip


@contextlib.contextmanager
def worker(env: dict[str, str], logdir: Path, name: str, queues: str) -> Iterator[None]:
    """A real worker consuming ``queues``, once it answers a ping."""
    from celery import Celery

    log = logdir / f"worker-{name}.log"
    app = Celery(broker=env["REDIS_URL"], set_as_current=False)
    with running(worker_argv(name, queues), env, log) as process:

        def answered() -> bool:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            replies = app.control.ping(timeout=0.5) or []
            return any(name + "@" in host for reply in replies for host in reply)

        wait_for(answered, timeout=90, interval=0.2, what=f"worker {name} to answer a ping")
        yield


@contextlib.contextmanager
def flower(env: dict[str, str], logdir: Path) -> Iterator[str]:
    """Flower on a free loopback port; yields its base URL (/metrics answers without auth)."""
    port = free_port()
    argv = [
        sys.executable, "-m", "celery", "-A", "workers", "flower", "--address=127.0.0.1",
        f"--port={port}", "--basic-auth=user:pass",
    ]  # fmt: skip
    log = logdir / "flower.log"
    url = f"http://127.0.0.1:{port}"
    with running(argv, env, log) as process:
        wait_http(url + "/healthcheck", process, log, "flower to answer")
        yield url
