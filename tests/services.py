"""The test suite's view of the local services: the sandbox with the tests' own credentials."""

from __future__ import annotations

from pathlib import Path

from infra import local_services
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
    "wait_for",
]

SANDBOX_CLIENT_ID = "test-client-id"
SANDBOX_CLIENT_SECRET = "test-client-secret-DO-NOT-LEAK-7f3a9c"


def start_sandbox(workdir: Path, *extra_args: str) -> Service:
    """The sandbox, accepting the tests' client id and secret."""
    return local_services.start_sandbox(
        workdir, *extra_args, client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET
    )
