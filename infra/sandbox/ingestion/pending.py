"""Every Data Ingestion request the instance answered, and the accepted ones awaiting apply.

Accepted requests wait ``apply_delay_s`` of sandbox time, then ``SandboxState.settle``
(the ticker, any admin read, or ``POST /_sandbox/ingestion/drain``) applies
them in acceptance order, interleaved in time with bulk jobs finishing.
Also here: the per-client requests-per-second window and the objects-per-day count.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from infra.sandbox.config import Schema
from infra.sandbox.ingestion import apply_members, apply_records
from infra.sandbox.ingestion.apply_records import Outcome
from infra.sandbox.ingestion.shapes import Batch
from infra.sandbox.records import Store

MAX_KEPT = 10_000  # finished requests remembered for the admin API; the oldest go first
RATE_WINDOW_S = 1.0


@dataclass
class IngestionRequest:
    """One answered call: how it was answered and, once applied, each object's outcome."""

    request_id: str
    endpoint: str  # e.g. "POST /subscriptions/{munchkinId}/persons"
    resource: str  # e.g. "persons", "customobjects/car_c", "lists/remove"
    received_at: float
    http_status: int | None  # None: dropped without an answer
    client_id: str | None = None
    correlation_id: str | None = None
    request_source: str | None = None
    error_code: str | None = None
    message: str | None = None
    fault: str | None = None
    batch: Batch | None = None
    objects: int = 0
    apply_at: float | None = None
    applied_at: float | None = None
    applied: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.http_status is None:
            return "dropped"
        if self.http_status != 202:
            return "rejected"
        return "applied" if self.applied_at is not None else "pending"

    def summary(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id, "endpoint": self.endpoint, "resource": self.resource,
            "status": self.status, "http_status": self.http_status,
            "error_code": self.error_code, "message": self.message, "fault": self.fault,
            "client_id": self.client_id, "correlation_id": self.correlation_id,
            "request_source": self.request_source, "objects": self.objects,
            "applied": self.applied, "failed": len(self.failures), "warned": len(self.warnings),
            "received_at": self.received_at, "apply_at": self.apply_at,
            "applied_at": self.applied_at,
        }  # fmt: skip

    def detail(self) -> dict[str, Any]:
        return {**self.summary(), "failures": self.failures, "warnings": self.warnings}

    def record(self, outcomes: list[Outcome], now: float) -> None:
        assert self.batch is not None
        for item, (reason, warnings) in zip(self.batch.items, outcomes, strict=True):
            if reason:
                self.failures.append({"index": item.index, "where": item.where, "reason": reason})
                continue
            self.applied += 1
            if warnings:
                self.warnings.append(
                    {"index": item.index, "where": item.where, "warnings": warnings}
                )
        self.applied_at = now
        self.batch = None  # the objects are in the store now; keep only the outcome


def apply_request(request: IngestionRequest, store: Store, schema: Schema, now: float) -> None:
    """Write an accepted request's objects into the store and record each outcome."""
    batch = request.batch
    assert batch is not None
    if batch.resource == "persons":
        outcomes = apply_records.persons(batch, store, schema, now)
    elif batch.resource == "companies":
        outcomes = apply_records.companies(batch, store, schema, now)
    elif batch.resource.startswith("customobjects/"):
        outcomes = apply_records.custom_objects(batch, store, schema, now)
    else:
        outcomes = apply_members.APPLIERS[batch.resource](batch, store, schema, now)
    request.record(outcomes, now)


class IngestionLog:
    """Requests by id, the pending heap, rate windows and the daily count; caller holds the lock."""

    def __init__(self) -> None:
        self._sequence = itertools.count()
        self.reset()

    def reset(self) -> None:
        self.requests: OrderedDict[str, IngestionRequest] = OrderedDict()
        self._pending: list[tuple[float, int, str]] = []
        self._windows: dict[str, deque[float]] = {}
        self.day = ""
        self.objects_today = 0

    def add(self, request: IngestionRequest) -> None:
        self.requests[request.request_id] = request
        if request.apply_at is not None:
            heapq.heappush(self._pending, (request.apply_at, next(self._sequence),
                                           request.request_id))  # fmt: skip
        while len(self.requests) > MAX_KEPT:
            oldest = next(iter(self.requests.values()))
            if oldest.status == "pending":
                break
            self.requests.popitem(last=False)

    def next_due(self, until: float) -> IngestionRequest | None:
        """The first pending request due by ``until`` (it leaves the heap), or None."""
        if self._pending and self._pending[0][0] <= until:
            return self.requests[heapq.heappop(self._pending)[2]]
        return None

    def pending_count(self) -> int:
        return len(self._pending)

    def admit_rate(self, client_id: str, now: float, limit: int) -> bool:
        """Count the call in its client's 1-second window, or False when the window is full."""
        window = self._windows.setdefault(client_id, deque())
        if window and window[-1] > now:  # the clock was set back
            window.clear()
        while window and window[0] <= now - RATE_WINDOW_S:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True

    def take_objects(self, count: int, day: str, limit: int) -> bool:
        """Add ``count`` to the day's objects, or False (nothing added) when over ``limit``."""
        if day != self.day:
            self.day, self.objects_today = day, 0
        if self.objects_today + count > limit:
            return False
        self.objects_today += count
        return True

    def objects_on(self, day: str) -> int:
        return self.objects_today if day == self.day else 0
