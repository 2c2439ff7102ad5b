"""What the scheduler tests share: real workers, datasets, and a broker user with a password.

The scheduler (Airflow, Dagster) runs in its own virtualenv and process, reaching
the test Redis as a Redis ACL user whose password must show nowhere the scheduler
keeps things; the workers use the default user, as in the other tests.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
import redis

from tests.pipeline_helpers import Pipeline, lead_rows, pipeline_env, put_dataset
from tests.sandbox_helpers import admin
from tests.services import S3_ACCESS_KEY, S3_SECRET_KEY, SANDBOX_CLIENT_SECRET, Service

HEADER = "email,firstName,lastName,leadScore\n"
ACL_USER = "scheduler"
PASSWORD = "Af-s3cret/p@ss:w0rd%7"  # characters a URL must quote
WRONG = "Wr0ng-p@ss/word"  # the password of a second connection, which Redis refuses
# What the scheduler's side must never show: the broker's passwords and the workers' secrets.
SECRETS = (
    PASSWORD,
    quote(PASSWORD, safe=""),
    WRONG,
    quote(WRONG, safe=""),
    SANDBOX_CLIENT_SECRET,
    S3_SECRET_KEY,
)
IMPORT_OVERHEAD_S = 1.5  # each sandbox import job takes at least this long: waits really wait
# Settings of the workers that the scheduler's process must not see (it must not need them).
WORKER_SETTINGS = ("MARKETO_", "AWS_", "S3_", "REDIS_", "STAGING_")


@dataclass
class Workers:
    """Two real workers on the test Redis, S3 endpoint and sandbox, and a bucket for datasets."""

    pipeline: Pipeline
    s3: Any
    bucket: str
    host: str
    port: int
    db: int

    def leads(self, count: int, start: int, *, bad: bool = False) -> str:
        """A lead dataset in S3 (``bad``: with one row Marketo refuses); its URI."""
        rows = list(lead_rows(count, start=start))
        if bad:
            rows.insert(count // 2, "typo@example.com,Bad,Score,not-a-number\n")
        key = f"in/{uuid.uuid4().hex}.csv"
        return put_dataset(self.s3, self.bucket, key, HEADER + "".join(rows))


@contextmanager
def scheduler_workers(request: pytest.FixtureRequest, logdir: Path) -> Iterator[Workers]:
    """Real workers for a module of scheduler tests, with the ACL user ``ACL_USER`` set up
    (on the session's Redis, S3 endpoint and sandbox, started only when a run needs them)."""
    redis_service: Service = request.getfixturevalue("redis_service")
    s3_service: Service = request.getfixturevalue("s3_service")
    sandbox_service: Service = request.getfixturevalue("sandbox_service")
    broker = redis_service.url
    client = redis.Redis.from_url(broker)
    client.flushall()
    client.execute_command(
        "ACL", "SETUSER", ACL_USER, "reset", "on", f">{PASSWORD}", "~*", "&*", "+@all"
    )
    admin(sandbox_service, "POST", "/_sandbox/reset", {})
    admin(sandbox_service, "PATCH", "/_sandbox/config", {"import_overhead_s": IMPORT_OVERHEAD_S})
    s3 = boto3.client(
        "s3", endpoint_url=s3_service.url, region_name="us-east-1",
        aws_access_key_id=S3_ACCESS_KEY, aws_secret_access_key=S3_SECRET_KEY,
    )  # fmt: skip
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    env = pipeline_env(broker, s3_service, sandbox_service, bucket, CHUNK_BYTE_LIMIT="4096")
    pipeline = Pipeline(env, broker, bucket, logdir)
    host_port, db = broker.removeprefix("redis://").rsplit("/", 1)
    host, port = host_port.rsplit(":", 1)
    try:
        pipeline.start_worker("a")
        pipeline.start_worker("b")
        yield Workers(pipeline, s3, bucket, host, int(port), int(db or 0))
    finally:
        pipeline.stop()
        client.execute_command("ACL", "DELUSER", ACL_USER)
        admin(sandbox_service, "POST", "/_sandbox/reset", {})


def docs_examples(page: Path, folder: Path) -> Path:
    """The Python examples of a docs page, one file each in ``folder`` (a runner runs them)."""
    folder.mkdir()
    text = page.read_text()
    for number, block in enumerate(re.findall(r"```python\n(.*?)```", text, re.DOTALL)):
        (folder / f"example_{number}.py").write_text(block)
    return folder


def once_per_session(
    factory: pytest.TempPathFactory, name: str, produce: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``produce()`` once for the whole pytest run, its result shared by pytest-xdist's workers.

    The scheduler's process is the slow part of its tests. ``make pytest`` keeps a
    module on one worker (``xdist_group``, ``--dist loadgroup``); under a plain
    ``-n`` its tests are spread over workers, and each would start it again. So
    the first worker to ask runs it (on its own Redis, S3 endpoint and sandbox);
    the others wait on the lock and read the JSON it wrote. A run that fails writes
    nothing, so the next worker tries again and reports its own failure.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return produce()
    shared = factory.getbasetemp().parent  # one folder for all workers of this run
    result = shared / f"{name}.json"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if result.exists():
            return dict(json.loads(result.read_text()))
        value = produce()
        result.write_text(json.dumps(value))
        return value


def scheduler_env(**extra: str) -> dict[str, str]:
    """This environment without the workers' settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(WORKER_SETTINGS)}
    env.update(extra)
    return env
