"""What the pipeline benchmarks share: a private stack (Redis, S3 endpoint, sandbox, workers).

Every process is started on a free loopback port and stopped on exit, as the
tests do (``tests/services.py``, ``tests/pipeline_helpers.py``); nothing here
touches a service it did not start. The sandbox's pace is given by its flags,
so a benchmark says how close to Marketo it runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.pipeline_helpers import Pipeline, pipeline_env  # noqa: E402
from tests.services import Service, start_redis, start_s3, start_sandbox  # noqa: E402

# Marketo's own pace for a bulk import job (the sandbox's ``--realistic``) and its polling.
REALISTIC_OVERHEAD_S = 5.0
REALISTIC_ROWS_PER_S = 2000.0
MARKETO_POLL_MIN_S = 5.0
MARKETO_POLL_MAX_S = 30.0
BUCKET = "bench"


def admin(url: str, path: str, body: dict[str, Any] | None = None, method: str = "GET") -> Any:
    """One call to the sandbox's admin API (``/_sandbox/...``), its JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def bulk_pace(scale: float) -> list[str]:
    """Sandbox flags for Marketo's bulk import speed, ``scale`` times faster."""
    return [
        "--import-overhead", str(REALISTIC_OVERHEAD_S / scale),
        "--import-rows-per-s", str(REALISTIC_ROWS_PER_S * scale),
    ]  # fmt: skip


def poll_env(scale: float) -> dict[str, str]:
    """Workers' poll intervals at Marketo's advised 5-30 s, ``scale`` times faster."""
    return {
        "POLL_MIN_S": str(MARKETO_POLL_MIN_S / scale),
        "POLL_MAX_S": str(MARKETO_POLL_MAX_S / scale),
    }


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) of process ``root`` and every live descendant, with the
    children they already reaped; 0 for a process that is gone (Linux ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            stats[int(entry)] = text.rsplit(")", 1)[1].split()  # fields after the name
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)  # field 4: ppid
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid not in stats:
            continue
        total += sum(int(value) for value in stats[pid][11:15])  # utime stime cutime cstime
        todo.extend(children.get(pid, []))
    return total / tick


@dataclass
class Stack:
    """One private Redis, S3 endpoint (with the bucket ``bench``) and sandbox, and the
    workers started on them; ``work`` holds every log."""

    work: Path
    redis: Service
    s3: Service
    sandbox: Service
    s3_client: Any
    pipeline: Pipeline | None = None

    def put(self, key: str, body: bytes) -> str:
        self.s3_client.put_object(Bucket=BUCKET, Key=key, Body=body)
        return f"s3://{BUCKET}/{key}"

    def start_workers(self, count: int, concurrency: int = 2, **env: str) -> Pipeline:
        """``count`` worker processes (``env`` over the tests' worker environment), ready."""
        settings = pipeline_env(self.redis.url, self.s3, self.sandbox, BUCKET, **env)
        self.pipeline = Pipeline(settings, self.redis.url, BUCKET, self.work)
        for n in range(count):
            self.pipeline.start_worker(f"bench{n}", concurrency=concurrency)
        self.pipeline.wait_ready(timeout=120)
        return self.pipeline

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by the workers (pool children included) and each service."""
        workers = self.pipeline.workers if self.pipeline is not None else []
        used = {"workers": sum(cpu_seconds(w.pid) for w in workers)}
        for service in (self.sandbox, self.s3, self.redis):
            used[service.name] = cpu_seconds(service.process.pid)
        return used

    def admin(self, path: str, body: dict[str, Any] | None = None, method: str = "GET") -> Any:
        return admin(self.sandbox.url, path, body, method)


@contextlib.contextmanager
def stack(
    *sandbox_args: str, prefix: str = "mkto-bench-", work: Path | None = None
) -> Iterator[Stack]:
    """Start the services (the sandbox with ``sandbox_args``); stop them and the workers after."""
    import boto3

    work = work or Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    services: list[Service] = []
    built: Stack | None = None
    try:
        services.append(start_redis(work))
        services.append(start_s3(work))
        services.append(start_sandbox(work, *sandbox_args))
        redis_service, s3, sandbox = services
        s3_client = boto3.client(
            "s3", endpoint_url=s3.url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        s3_client.create_bucket(Bucket=BUCKET)
        built = Stack(work, redis_service, s3, sandbox, s3_client)
        yield built
    finally:
        if built is not None and built.pipeline is not None:
            built.pipeline.stop()
        for service in reversed(services):
            service.stop()
