"""Pushes driven in this process against the test Redis, S3 endpoint and sandbox."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from tests.pipeline_helpers import RecordingDispatcher
from tests.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Service
from workers.pipeline.runtime import Runtime
from workers.settings import Settings
from workers.storage import Storage

MUNCHKIN_ID = "123-ABC-456"  # the sandbox's


class RecordingScheduler:
    """Records the flushes a step asked for: (queue id, countdown)."""

    def __init__(self) -> None:
        self.flushes: list[tuple[str, float]] = []

    def flush(self, queue_id: str, countdown: float = 0) -> None:
        self.flushes.append((queue_id, countdown))


def push_runtime(
    redis_url: str, sandbox: Service, s3_client: Any, bucket: str, **settings: Any
) -> Runtime:
    """A worker's runtime (Data Ingestion entitled by default), its S3 client the test's."""
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "marketo_rest_url": sandbox.url,
        "marketo_client_id": SANDBOX_CLIENT_ID,
        "marketo_client_secret": SecretStr(SANDBOX_CLIENT_SECRET),
        "marketo_ingestion_url": sandbox.url,
        "marketo_munchkin_id": MUNCHKIN_ID,
        "staging_uri": f"s3://{bucket}/loads",
        **settings,
    }
    rt = Runtime(Settings(**values))
    rt.__dict__["storage"] = Storage(rt.settings, client=s3_client)
    return rt


def leads(count: int, start: int = 0, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"email": f"pushed{n}@example.com", "firstName": f"P{n}", "leadScore": n, **extra}
        for n in range(start, start + count)
    ]


__all__ = ["MUNCHKIN_ID", "RecordingDispatcher", "RecordingScheduler", "leads", "push_runtime"]
