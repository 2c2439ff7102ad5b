"""Session-wide real services: a private Redis, an S3 endpoint and the Marketo sandbox."""

from __future__ import annotations

import json
import shutil
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline_helpers import Pipeline, pipeline_env
from tests.services import Service, start_redis, start_s3, start_sandbox


@pytest.fixture(scope="session")
def service_dir() -> Iterator[Path]:
    from tests.services import session_tmpdir

    path = session_tmpdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_service(service_dir: Path) -> Iterator[Service]:
    service = start_redis(service_dir)
    yield service
    service.stop()


@pytest.fixture
def redis_url(redis_service: Service) -> Iterator[str]:
    """A clean database on the session's private redis-server."""
    import redis

    client = redis.Redis.from_url(redis_service.url)
    client.flushall()
    yield redis_service.url
    client.close()


@pytest.fixture(scope="session")
def s3_service(service_dir: Path) -> Iterator[Service]:
    service = start_s3(service_dir)
    yield service
    service.stop()


@pytest.fixture
def s3_client(s3_service: Service) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3_service.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(s3_client: Any) -> str:
    """A fresh bucket on the test S3 endpoint."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def sandbox_service(service_dir: Path) -> Iterator[Service]:
    service = start_sandbox(service_dir)
    yield service
    service.stop()


@pytest.fixture
def sandbox(sandbox_service: Service) -> Service:
    """The session's sandbox, reset to its default config and empty."""
    admin(sandbox_service, "POST", "/_sandbox/reset", {})
    return sandbox_service


def admin(service: Service, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call the sandbox's admin API and return its JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        service.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture
def pipeline(
    redis_url: str, s3_service: Service, sandbox: Service, bucket: str, tmp_path: Path
) -> Iterator[Pipeline]:
    """Real workers (started by the test) on the test Redis, S3 and sandbox; small chunks."""
    env = pipeline_env(redis_url, s3_service, sandbox, bucket, CHUNK_BYTE_LIMIT="4096")
    running = Pipeline(env, redis_url, bucket, tmp_path)
    yield running
    running.stop()
