"""Marketo's import queue: FIFO, ``max_importing`` slots, ``max_outstanding`` admitted jobs.

Each job's start and finish are computed when it is admitted (FIFO with fixed
slots and a known duration is deterministic), so its status at any sandbox time
is exact without anybody polling; the upsert runs once the finish time passes
(``settle``), in finish order, from the ticker or from the next request.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.sandbox.config import Settings
from infra.sandbox.envelope import MarketoError
from infra.sandbox.records import ImportTarget
from infra.sandbox.rows import ParsedFile, RowResult


@dataclass
class ImportJob:
    """One bulk import batch, its schedule and, once finished, its outcome."""

    batch_id: int
    target: ImportTarget
    fmt: str
    queue_key: str
    queued_at: float
    start_at: float
    finish_at: float
    rows: int
    parsed: ParsedFile | None
    checked: list[RowResult] | None
    fail_message: str = ""
    final_status: str = ""
    processed: int = 0
    failure_rows: list[list[str]] = field(default_factory=list)
    warning_rows: list[list[str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    message: str = ""
    skip_rows: int = 0  # an injected fault: rows left out of every count

    def status(self, now: float) -> str:
        if self.final_status:
            return self.final_status
        if now < self.start_at:
            return "Queued"
        return "Importing"

    def summary(self, now: float) -> dict[str, Any]:
        """The admin view of a job (times are sandbox-clock epoch seconds; null until reached)."""
        return {
            "batchId": self.batch_id,
            "object": self.target.object_name,
            "status": self.status(now),
            "rows": self.rows,
            "processed": self.processed,
            "failed": len(self.failure_rows),
            "warnings": len(self.warning_rows),
            "message": self.message,
            "queue": self.queue_key,
            "queued_at": self.queued_at,
            "started_at": self.start_at if self.start_at <= now else None,
            "finished_at": self.finish_at if self.final_status else None,
        }


@dataclass
class ImportQueue:
    """All jobs of the instance; the caller holds the state lock."""

    next_batch_id: int = 1001
    jobs: dict[int, ImportJob] = field(default_factory=dict)
    history: list[tuple[float, float, float, str]] = field(default_factory=list)
    max_outstanding: int = 0
    too_many_imports: int = 0

    def reset(self) -> None:
        """Forget jobs and counters; batch ids keep increasing so stale ids stay unknown."""
        self.jobs.clear()
        self.history.clear()
        self.max_outstanding = 0
        self.too_many_imports = 0

    def outstanding(self, queue_key: str, now: float) -> list[ImportJob]:
        return [
            job
            for job in self.jobs.values()
            if job.queue_key == queue_key and job.queued_at <= now < job.finish_at
        ]

    def admit(
        self,
        target: ImportTarget,
        fmt: str,
        parsed: ParsedFile,
        checked: list[RowResult] | None,
        fail_message: str,
        now: float,
        settings: Settings,
    ) -> ImportJob:
        """Queue a job behind the others (FIFO), or raise 1016 when the queue is full."""
        queue_key = "shared" if settings.shared_queue else target.kind
        ahead = [j for j in self.jobs.values() if j.queue_key == queue_key]
        outstanding = sum(1 for j in ahead if j.finish_at > now)
        if outstanding >= settings.max_outstanding:
            self.too_many_imports += 1
            raise MarketoError("1016", "Too many imports")
        start = now
        if ahead:
            start = max(start, max(j.start_at for j in ahead))
            finishes = heapq.nlargest(settings.max_importing, (j.finish_at for j in ahead))
            if len(finishes) == settings.max_importing:
                start = max(start, finishes[-1])
        rows = len(parsed.rows)
        duration = settings.import_overhead_s + rows / settings.import_rows_per_s
        job = ImportJob(
            batch_id=self.next_batch_id, target=target, fmt=fmt, queue_key=queue_key,
            queued_at=now, start_at=start, finish_at=start + duration, rows=rows,
            parsed=parsed, checked=checked, fail_message=fail_message, header=parsed.header,
        )  # fmt: skip
        self.next_batch_id += 1
        self.jobs[job.batch_id] = job
        self.history.append((job.queued_at, job.start_at, job.finish_at, queue_key))
        self.max_outstanding = max(self.max_outstanding, outstanding + 1)
        return job

    def settle(self, now: float, finish: Callable[[ImportJob], None]) -> None:
        """Run ``finish`` (the upsert) for every job whose finish time has passed, in order."""
        due = [j for j in self.jobs.values() if not j.final_status and j.finish_at <= now]
        for job in sorted(due, key=lambda j: (j.finish_at, j.batch_id)):
            finish(job)
            job.parsed = None
            job.checked = None

    def expire(self, now: float, ttl: float) -> None:
        """Batch ids are valid for ``batch_ttl_s`` (7 days) after creation."""
        for batch_id in [
            b for b, j in self.jobs.items() if j.final_status and j.queued_at + ttl < now
        ]:
            del self.jobs[batch_id]

    def counts(self, now: float) -> dict[str, int]:
        counts = dict.fromkeys(("Queued", "Importing", "Complete", "Failed"), 0)
        for job in self.jobs.values():
            counts[job.status(now)] += 1
        return counts

    def max_importing(self, now: float) -> int:
        """Most jobs importing at once so far (sweep over the started intervals)."""
        events: list[tuple[float, int]] = []
        for _, start, finish, _ in self.history:
            if start <= now:
                events.append((start, 1))
                events.append((min(finish, now), -1))
        best = current = 0
        for _, delta in sorted(events):  # at equal times -1 sorts first: a slot is reused
            current += delta
            best = max(best, current)
        return best

    def occupancy(self, now: float, settings: Settings) -> dict[str, float]:
        """How busy the import slots were while any job was outstanding (for benchmarks)."""
        busy = waiting = 0.0
        spans: list[tuple[float, float]] = []
        for queued, start, finish, _ in self.history:
            if queued > now:
                continue
            busy += max(0.0, min(finish, now) - start) if start <= now else 0.0
            waiting += min(start, now) - queued
            spans.append((queued, min(finish, now)))
        active = 0.0
        edge = float("-inf")
        for begin, end in sorted(spans):
            begin = max(begin, edge)
            if end > begin:
                active += end - begin
                edge = max(edge, end)
        queues = max(1, len({key for *_, key in self.history}))
        slots = settings.max_importing * queues
        return {
            "busy_slot_seconds": round(busy, 6),
            "waiting_seconds": round(waiting, 6),
            "active_seconds": round(active, 6),
            "slots": slots,
            "occupancy": round(busy / (slots * active), 6) if active > 0 else 0.0,
        }
