"""Flushing a queue: send what is full or due, and set when the queue flushes next.

One flusher per queue at a time (a lease, renewed before each batch). It first
claims the entries a dead flusher left pending and sends again, as the same
batch, the one that was in flight (it may have reached Marketo: an upsert, so
repeating it is safe, and it is counted). Then it reads what is new, sends
every full batch, and sends the rest only once its earliest deadline has come.
Entries are acknowledged only after their request was accepted, their load
recorded, or their failure written to S3. A transient error leaves them
pending, and the task retries; if the flusher dies, the lease lapses and the
beat sweep (``sweep``) hands the queue to another one.

The queue's next flush time is settled in Redis only when nothing new came
in since the last read, so a record appended during a flush is never
forgotten; the flusher then schedules itself for that time.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from workers.errors import IngestionNotEntitled, LeaseLost
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.runtime import Runtime
from workers.push import api_choice
from workers.push.queue import Entry, InFlight, PushQueue, id_order
from workers.push.request import parameters_request
from workers.push.send import BulkSender, IngestionSender, QueueContext, Sender, record_failures
from workers.state import keys as redis_keys
from workers.state.lease import Lease

logger = logging.getLogger(__name__)

DUE_SLACK_S = 0.5  # a flush woken this close to a deadline sends (timers are not exact)


class FlushScheduler(Protocol):
    def flush(self, queue_id: str, countdown: float = 0) -> None: ...


@dataclass(frozen=True)
class Flushed:
    """What one flush did."""

    queue_id: str
    batches: int = 0
    sent: int = 0
    failed: int = 0
    busy: bool = False  # another flusher holds the queue
    next_flush_at: float | None = None


class Flusher:
    """One run over one queue (see the module)."""

    def __init__(
        self,
        rt: Runtime,
        dispatch: Dispatcher,
        queue_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rt = rt
        self.clock = clock
        instance = rt.settings.instance
        self.queue = PushQueue(rt.redis, instance, queue_id)
        meta = self.queue.meta()
        parameters = json.loads(meta.get("parameters") or "{}")
        self.asked = meta.get("api") or None
        self.ctx = QueueContext(
            rt, dispatch, queue_id, meta.get("object", ""), parameters,
            parameters_request(meta.get("object"), parameters, self.asked),
        )  # fmt: skip
        self.lease = Lease(
            rt.redis,
            redis_keys.push_flush_lease(instance, queue_id),
            rt.settings.push_flush_lease_s,
        )
        self.totals = {"batches": 0, "sent": 0, "failed": 0}
        self._senders: dict[str, Sender] = {}

    def sender(self, api: str) -> Sender:
        if api not in self._senders:
            if api == api_choice.INGESTION:
                spec = self.ctx.spec
                shape = spec.ingestion_shape(spec.import_target(self.ctx.load))
                assert shape is not None, f"{spec.name}: no Data Ingestion shape"
                self._senders[api] = IngestionSender(self.ctx, shape)
            else:
                self._senders[api] = BulkSender(self.ctx)
        return self._senders[api]

    def api(self) -> str:
        return api_choice.choose(self.rt.settings, self.rt.redis, self.asked)

    def run(self) -> Flushed:
        if not self.lease.acquire():
            return Flushed(self.queue.id, busy=True)
        try:
            next_at = self._flush()
        finally:
            self.lease.release()
        totals = self.totals
        return Flushed(self.queue.id, totals["batches"], totals["sent"], totals["failed"],
                       next_flush_at=next_at)  # fmt: skip

    def _flush(self) -> float | None:
        consumer = self.lease.owner
        buffer = self.queue.claim_pending(consumer)
        inflight = self.queue.in_flight()
        if inflight is not None:
            batch = [e for e in buffer if _within(e.id, inflight)]
            if batch:
                self._send(inflight.id, inflight.api, batch, repeated=True)
            buffer = [e for e in buffer if not _within(e.id, inflight)]
        while True:
            fresh = self.queue.read_new(consumer)
            buffer += fresh
            buffer = self._send_full(buffer)
            if fresh:
                continue
            now = self.clock()
            if buffer and min(e.deadline for e in buffer) <= now + DUE_SLACK_S:
                groups, _ = self.sender(self.api()).groups(buffer)
                for group in groups:
                    self._send_new(group)
                buffer = []
            next_at = min(e.deadline for e in buffer) if buffer else None
            if self.queue.settle(next_at):
                return next_at

    def _send_full(self, buffer: list[Entry]) -> list[Entry]:
        """Send every full batch of ``buffer``; returns what is left (one batch, not full)."""
        groups, last_full = self.sender(self.api()).groups(buffer)
        done = groups if last_full else groups[:-1]
        for group in done:
            self._send_new(group)
        return [] if last_full or not groups else groups[-1]

    def _send_new(self, entries: Sequence[Entry]) -> None:
        self._send(f"{self.queue.id}-{entries[0].id}", self.api(), entries, repeated=False)

    def _send(self, batch_id: str, api: str, entries: Sequence[Entry], *, repeated: bool) -> None:
        if not self.lease.renew():
            raise LeaseLost(f"push queue {self.queue.id}: the flush lease ran out")
        batch = InFlight(batch_id, api, entries[0].id, entries[-1].id, len(entries))
        self.queue.begin(batch)
        try:
            outcome = self.sender(api).send(batch_id, entries)
        except IngestionNotEntitled as error:
            message = error.message
            api_choice.remember_not_entitled(self.rt.redis, self.rt.settings.instance, message)
            if self.asked is None:  # ours to choose: the same records go through bulk import
                logger.warning("push queue %s: %s; bulk import from now on", self.queue.id, error)
                self._send(batch_id, api_choice.BULK, entries, repeated=repeated)
                return
            uri = record_failures(self.ctx, batch_id, entries, error.code, message)
            self._ack(batch_id, entries, 0, len(entries), repeated)
            self.queue.note(last_error=str(error), failures_uri=uri)
            return
        self._ack(batch_id, entries, outcome.sent, outcome.failed, repeated)
        if outcome.notes:
            self.queue.note(**outcome.notes)

    def _ack(
        self, batch_id: str, entries: Sequence[Entry], sent: int, failed: int, repeated: bool
    ) -> None:
        self.queue.ack(batch_id, entries, sent=sent, failed=failed,
                       repeated=len(entries) if repeated else 0, now=self.clock())  # fmt: skip
        self.totals["batches"] += 1
        self.totals["sent"] += sent
        self.totals["failed"] += failed


def _within(entry_id: str, batch: InFlight) -> bool:
    return id_order(batch.first) <= id_order(entry_id) <= id_order(batch.last)


def flush(
    rt: Runtime, dispatch: Dispatcher, scheduler: FlushScheduler, queue_id: str
) -> dict[str, Any]:
    """``mkto_bulk.push_flush``: flush one queue, then schedule its next flush."""
    queue = PushQueue(rt.redis, rt.settings.instance, queue_id)
    if not queue.meta().get("object"):
        rt.redis.zrem(queue.due, queue_id)
        return {"queue": queue_id, "unknown": True}
    try:
        done = Flusher(rt, dispatch, queue_id).run()
    except LeaseLost as error:  # another flusher took the queue over: it goes on
        logger.warning("%s", error)
        return {"queue": queue_id, "busy": True}
    if done.next_flush_at is not None:
        scheduler.flush(queue_id, countdown=max(0.0, done.next_flush_at - time.time()))
    if done.batches:
        logger.info("push queue %s flushed: %d batches, %d sent, %d failed",
                    queue_id, done.batches, done.sent, done.failed)  # fmt: skip
    return {"queue": queue_id, "batches": done.batches, "sent": done.sent,
            "failed": done.failed, "busy": done.busy}  # fmt: skip


def sweep(rt: Runtime, scheduler: FlushScheduler, now: float | None = None) -> int:
    """Beat's safety net: hand every queue whose flush time has passed to a flusher.

    A queue whose flusher is alive (its lease is held) is left to it.
    """
    instance = rt.settings.instance
    due = rt.redis.zrangebyscore(redis_keys.push_due(instance), "-inf", now or time.time())
    sent = 0
    for raw in due:
        queue_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        if not rt.redis.exists(redis_keys.push_flush_lease(instance, queue_id)):
            scheduler.flush(queue_id)
            sent += 1
    return sent
