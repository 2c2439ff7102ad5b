"""The test suite's view of the local services: the sandbox and S3 with the tests' credentials."""

from __future__ import annotations

from pathlib import Path

from infra import local_services, seaweedfs
from infra.local_services import (
    STARTUP_TIMEOUT_S,
    Service,
    free_port,
    running,
    session_tmpdir,
    start_redis,
    start_s3,
    wait_for,
)

__all__ = [
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "STARTUP_TIMEOUT_S",
    "Service",
    "free_port",
    "running",
    "session_tmpdir",
    "start_redis",
    "start_s3",
    "start_sandbox",
    "start_seaweedfs",
    "wait_for",
]

SANDBOX_CLIENT_ID = "test-client-id"
SANDBOX_CLIENT_SECRET = "test-client-secret-DO-NOT-LEAK-7f3a9c"
# The S3 key pair of every test client and worker. moto takes any pair; SeaweedFS checks the
# signature against exactly this one.
S3_ACCESS_KEY = "mkto-bulk-tests"
S3_SECRET_KEY = "test-s3-secret-DO-NOT-LEAK-2c41e8"


def start_sandbox(workdir: Path, *extra_args: str) -> Service:
    """The sandbox, accepting the tests' client id and secret."""
    return local_services.start_sandbox(
        workdir, *extra_args, client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET
    )


def start_seaweedfs(workdir: Path) -> seaweedfs.SeaweedFS:
    """SeaweedFS, accepting requests signed with the tests' S3 key pair only."""
    return seaweedfs.start_seaweedfs(workdir, access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY)
