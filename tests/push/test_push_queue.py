"""The queue in Redis: records in order, removed only when done, never lost by a dead reader."""

from __future__ import annotations

import json

import redis

from workers.push.queue import GROUP, InFlight, PushQueue

INSTANCE = "queue-test"
IDENTITY = {"object": "leads", "parameters": "{}", "api": ""}


def _queue(redis_url: str) -> PushQueue:
    return PushQueue(redis.Redis.from_url(redis_url), INSTANCE, "q1")


def _records(count: int, start: int = 0) -> list[bytes]:
    return [
        json.dumps({"email": f"r{n}@example.com"}).encode() for n in range(start, start + count)
    ]


def _append(queue: PushQueue, records: list[bytes], now: float, age: float = 60.0) -> bool:
    done = queue.append(records, identity=IDENTITY, now=now, deadline=now + age,
                        full_objects=1000, full_bytes=1_000_000)  # fmt: skip
    return done.moved


def test_records_are_read_in_the_order_pushed_with_their_push_time_and_deadline(
    redis_url: str,
) -> None:
    queue = _queue(redis_url)
    _append(queue, _records(3), now=100.0)
    _append(queue, _records(2, start=3), now=101.0, age=10)
    read = queue.read_new("flusher-a")
    assert [e.record["email"] for e in read] == [f"r{n}@example.com" for n in range(5)]
    assert [(e.pushed_at, e.deadline) for e in read] == [(100.0, 160.0)] * 3 + [(101.0, 111.0)] * 2
    assert queue.depth() == 5 and queue.meta()["object"] == "leads"


def test_the_flush_time_only_moves_earlier_and_a_full_request_makes_it_now(
    redis_url: str,
) -> None:
    queue = _queue(redis_url)
    assert _append(queue, _records(1), now=100.0)  # the first record: flush at 160
    assert not _append(queue, _records(1), now=101.0)  # 161 is later: nothing to schedule
    assert _append(queue, _records(1), now=102.0, age=5)  # 107 is earlier
    assert queue.redis.zscore(queue.due, "q1") == 107.0
    full = queue.append(_records(997), identity=IDENTITY, now=103.0, deadline=163.0,
                        full_objects=1000, full_bytes=1_000_000)  # fmt: skip
    assert (full.moved, full.depth, full.flush_at) == (True, 1000, 103.0)


def test_entries_of_a_reader_that_died_are_claimed_by_the_next_one_and_removed_once_done(
    redis_url: str,
) -> None:
    queue = _queue(redis_url)
    _append(queue, _records(4), now=100.0)
    dead = queue.read_new("flusher-dead")  # read, then killed before sending
    assert len(dead) == 4 and queue.read_new("flusher-next") == []
    claimed = queue.claim_pending("flusher-next")
    assert [e.id for e in claimed] == [e.id for e in dead]
    assert queue.ack("b1", claimed[:3], sent=3, failed=0, repeated=3, now=200.0) == 3
    assert queue.ack("b1", claimed[:3], sent=3, failed=0, repeated=3, now=201.0) == 0
    meta = queue.meta()
    assert (meta["sent"], meta["repeated"], meta["flushes"]) == ("3", "3", "1")
    assert queue.depth() == 1
    assert [e.id for e in queue.claim_pending("flusher-third")] == [claimed[3].id]
    pending = queue.redis.xpending(queue.stream, GROUP)
    assert pending["pending"] == 1


def test_the_batch_in_flight_is_kept_until_its_entries_are_acknowledged(redis_url: str) -> None:
    queue = _queue(redis_url)
    _append(queue, _records(2), now=100.0)
    read = queue.read_new("f")
    batch = InFlight("q1-b", "ingestion", read[0].id, read[-1].id, 2)
    queue.begin(batch)
    assert queue.in_flight() == batch
    queue.ack("q1-b", read, sent=2, failed=0, repeated=0, now=101.0)
    assert queue.in_flight() is None and queue.depth() == 0


def test_settling_waits_for_a_record_appended_since_the_last_read(redis_url: str) -> None:
    queue = _queue(redis_url)
    _append(queue, _records(1), now=100.0)
    queue.read_new("f")
    _append(queue, _records(1, start=1), now=100.5)  # arrives while the flush runs
    assert not queue.settle(None)
    assert len(queue.read_new("f")) == 1
    assert queue.settle(170.0)
    assert queue.redis.zscore(queue.due, "q1") == 170.0
    assert queue.settle(None) and queue.redis.zscore(queue.due, "q1") is None
