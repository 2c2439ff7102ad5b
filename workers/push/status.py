"""What each push queue holds and has done, for ``mkto-bulk status`` and the metrics."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis

from workers.push.queue import PushQueue
from workers.state import keys as redis_keys


@dataclass(frozen=True)
class QueueStatus:
    """One queue: what it is, what waits in it, and its counters since it was made."""

    queue: str
    object: str
    parameters: dict[str, Any]
    api: str  # as asked; "auto": the Data Ingestion API when the instance is entitled
    depth: int  # records waiting (not yet sent, or failed and recorded)
    oldest_age_s: float  # age of the oldest waiting record (0 when empty)
    next_flush_at: float | None
    pushed: int
    refused: int  # records refused at the door (never queued)
    flushes: int  # batches sent: requests, or loads
    sent: int
    failed: int
    repeated: int  # records sent again after a flusher died while sending them
    last_flush_at: float | None
    last_load_id: str | None
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _int(meta: dict[str, str], name: str) -> int:
    try:
        return int(meta.get(name) or 0)
    except ValueError:
        return 0


def queue_status(client: redis.Redis, instance: str, queue_id: str, now: float) -> QueueStatus:
    queue = PushQueue(client, instance, queue_id)
    meta = queue.meta()
    oldest = queue.oldest()
    due = client.zscore(redis_keys.push_due(instance), queue_id)
    last_flush = meta.get("last_flush_at")
    return QueueStatus(
        queue=queue_id,
        object=meta.get("object", ""),
        parameters=json.loads(meta.get("parameters") or "{}"),
        api=meta.get("api") or "auto",
        depth=queue.depth(),
        oldest_age_s=max(0.0, now - oldest.pushed_at) if oldest else 0.0,
        next_flush_at=float(due) if due is not None else None,
        pushed=_int(meta, "pushed"),
        refused=_int(meta, "refused"),
        flushes=_int(meta, "flushes"),
        sent=_int(meta, "sent"),
        failed=_int(meta, "failed"),
        repeated=_int(meta, "repeated"),
        last_flush_at=float(last_flush) if last_flush else None,
        last_load_id=meta.get("last_load_id") or None,
        last_error=meta.get("last_error") or None,
    )


def queue_statuses(client: redis.Redis, instance: str) -> list[QueueStatus]:
    """Every queue of the instance, by object then id."""
    now = time.time()
    ids = sorted(
        (raw.decode() if isinstance(raw, bytes) else str(raw))
        for raw in client.smembers(redis_keys.push_queues(instance))
    )
    found = [queue_status(client, instance, queue_id, now) for queue_id in ids]
    return sorted(found, key=lambda q: (q.object, q.queue))
