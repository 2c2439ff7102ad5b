"""Session-wide real services: a private Redis, an S3 endpoint and the Marketo sandbox.

The S3 endpoint is moto's server, except in a module (or test) marked
``s3_endpoints``: its tests run once against moto and once against a real
SeaweedFS (ids ``[moto]`` and ``[seaweedfs]``), each started once a session.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline_helpers import Pipeline, pipeline_env
from tests.sandbox_helpers import admin
from tests.services import (
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
    Service,
    start_redis,
    start_s3,
    start_sandbox,
    start_seaweedfs,
)

S3_ENDPOINTS = ("moto", "seaweedfs")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "s3_service" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "s3_endpoints"
    ):
        metafunc.parametrize("s3_service", S3_ENDPOINTS, indirect=True, scope="session")


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
def moto_service(service_dir: Path) -> Iterator[Service]:
    service = start_s3(service_dir)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def seaweedfs_service(service_dir: Path) -> Iterator[Service]:
    service = start_seaweedfs(service_dir)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def s3_service(request: pytest.FixtureRequest) -> Service:
    """The session's S3 endpoint: moto, or the one a test marked ``s3_endpoints`` runs on."""
    kind = getattr(request, "param", "moto")
    service: Service = request.getfixturevalue(f"{kind}_service")
    return service


@pytest.fixture
def s3_client(s3_service: Service) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3_service.url,
        region_name="us-east-1",
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
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


@pytest.fixture
def pipeline_with(
    redis_url: str, s3_service: Service, sandbox: Service, bucket: str, tmp_path: Path
) -> Iterator[Callable[..., Pipeline]]:
    """Make pipelines on the test Redis, S3 and sandbox with the test's own settings.

    Workers are started by the test; every pipeline made is stopped afterwards.
    """
    made: list[Pipeline] = []

    def make(**settings: str) -> Pipeline:
        env = pipeline_env(redis_url, s3_service, sandbox, bucket, **settings)
        made.append(Pipeline(env, redis_url, bucket, tmp_path))
        return made[-1]

    yield make
    for running in made:
        running.stop()


@pytest.fixture
def pipeline(pipeline_with: Callable[..., Pipeline]) -> Pipeline:
    """Real workers (started by the test) on the test Redis, S3 and sandbox; small chunks."""
    return pipeline_with(CHUNK_BYTE_LIMIT="4096")
