"""One queue of pushed records in Redis: a stream read through a consumer group.

A record is appended (``XADD``) with its push time and its deadline, read by
the queue's one flusher (``XREADGROUP``), and removed (``XACK`` + ``XDEL``) only
once its request was accepted or its failure recorded. A flusher that dies
leaves its entries pending in the group; the next one claims them
(``XAUTOCLAIM``) and sends them again. The queue's hash holds its identity
(object, parameters, API), its counters, and the batch in flight, so a batch
that may have been sent before a crash is sent again as the same batch and
counted. Appends, acknowledgements and settling the next flush time are Lua
scripts (``lua/``), each one atomic step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from workers.state import keys as redis_keys
from workers.state import scripts

GROUP = "flush"
READ_COUNT = 1_000  # entries per XREADGROUP / XAUTOCLAIM call


@dataclass(frozen=True)
class Entry:
    """One queued record: its stream id, its JSON, when it was pushed and its deadline."""

    id: str
    data: bytes
    pushed_at: float
    deadline: float

    @property
    def record(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.data)
        return value


@dataclass(frozen=True)
class Appended:
    """What an append did: whether the flush time moved earlier (and to when), the depth."""

    moved: bool
    depth: int
    bytes: int
    flush_at: float | None


@dataclass(frozen=True)
class InFlight:
    """The batch a flusher was sending: its id, API and entry ids (first to last)."""

    id: str
    api: str
    first: str
    last: str
    count: int


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(entry_id: Any, fields: Mapping[Any, Any] | None) -> Entry | None:
    if not fields:
        return None  # deleted while pending (XAUTOCLAIM lists it without fields)
    data = {_text(k): v for k, v in fields.items()}
    raw = data["r"]
    return Entry(
        _text(entry_id),
        raw if isinstance(raw, bytes) else str(raw).encode(),
        float(_text(data["t"])),
        float(_text(data["d"])),
    )


def id_order(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


class PushQueue:
    """The records pushed to one (instance, object, parameters, API) queue."""

    def __init__(self, client: redis.Redis, instance: str, queue_id: str) -> None:
        self.redis = client
        self.instance = instance
        self.id = queue_id
        self.stream = redis_keys.push_stream(instance, queue_id)
        self.key = redis_keys.push_queue(instance, queue_id)
        self.due = redis_keys.push_due(instance)
        self._append = scripts.register(client, "workers.push", "push_append")
        self._ack = scripts.register(client, "workers.push", "push_ack")
        self._settle = scripts.register(client, "workers.push", "push_settle")

    # producers ---------------------------------------------------------------
    def append(
        self,
        records: Sequence[bytes],
        *,
        identity: Mapping[str, str],
        now: float,
        deadline: float,
        full_objects: int,
        full_bytes: int,
    ) -> Appended:
        """Queue ``records`` (encoded JSON objects) in order, in one step."""
        args: list[Any] = [self.id, GROUP, repr(now), repr(deadline), full_objects, full_bytes]
        args += [json.dumps(dict(identity)), *records]
        keys = [self.stream, self.key, self.due, redis_keys.push_queues(self.instance)]
        moved, depth, size, when = self._append(keys=keys, args=args)
        when_text = _text(when)
        return Appended(bool(moved), int(depth), int(size), float(when_text) if when_text else None)

    # the flusher -------------------------------------------------------------
    def claim_pending(self, consumer: str) -> list[Entry]:
        """Every entry read but not acknowledged (its flusher died or gave up), in order.

        The caller holds the queue's flush lease, so no live flusher owns them.
        """
        entries: list[Entry] = []
        start = "0-0"
        while True:
            answer: Any = self.redis.xautoclaim(
                self.stream, GROUP, consumer, min_idle_time=0, start_id=start, count=READ_COUNT
            )
            start = _text(answer[0])
            for entry_id, fields in answer[1]:
                entry = _entry(entry_id, fields)
                if entry is not None:
                    entries.append(entry)
            if start == "0-0":
                break
        entries.sort(key=lambda e: id_order(e.id))
        return entries

    def read_new(self, consumer: str, count: int = READ_COUNT) -> list[Entry]:
        """Entries never delivered to a flusher, oldest first."""
        answer: Any = self.redis.xreadgroup(GROUP, consumer, {self.stream: ">"}, count=count)
        entries = []
        for _stream, items in answer or []:
            for entry_id, fields in items:
                entry = _entry(entry_id, fields)
                if entry is not None:
                    entries.append(entry)
        return entries

    def begin(self, batch: InFlight) -> None:
        """Record the batch about to be sent, so a crash repeats exactly it."""
        value = json.dumps(
            {"id": batch.id, "api": batch.api, "first": batch.first, "last": batch.last,
             "count": batch.count}
        )  # fmt: skip
        self.redis.hset(self.key, mapping={"inflight_id": batch.id, "inflight": value})

    def in_flight(self) -> InFlight | None:
        raw = self.redis.hget(self.key, "inflight")
        if not raw:
            return None
        data = json.loads(raw)
        return InFlight(data["id"], data["api"], data["first"], data["last"], int(data["count"]))

    def ack(
        self,
        batch_id: str,
        entries: Sequence[Entry],
        *,
        sent: int,
        failed: int,
        repeated: int,
        now: float,
    ) -> int:
        """The batch is done: remove its entries and count it (once)."""
        size = sum(len(e.data) for e in entries)
        args: list[Any] = [GROUP, size, sent, failed, repeated, repr(now), batch_id]
        args += [e.id for e in entries]
        return int(self._ack(keys=[self.stream, self.key], args=args))

    def settle(self, next_flush_at: float | None) -> bool:
        """Set the next flush time; False if records came in since the last read."""
        when = "" if next_flush_at is None else repr(next_flush_at)
        return bool(
            self._settle(keys=[self.stream, self.key, self.due], args=[GROUP, self.id, when])
        )

    def count_refused(self, count: int) -> None:
        """Records refused at the door (never queued), for status."""
        self.redis.hincrby(self.key, "refused", count)

    def note(self, **fields: str) -> None:
        """Record facts about the queue for status (the last load, the last error)."""
        self.redis.hset(self.key, mapping=dict[Any, Any](fields))

    # readers -----------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return {_text(k): _text(v) for k, v in self.redis.hgetall(self.key).items()}

    def depth(self) -> int:
        return int(self.redis.xlen(self.stream))

    def oldest(self) -> Entry | None:
        found: Any = self.redis.xrange(self.stream, count=1)
        for entry_id, fields in found or []:
            return _entry(entry_id, fields)
        return None
