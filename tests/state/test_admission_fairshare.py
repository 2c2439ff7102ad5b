"""Fair share: permits go to the highest priority first, and loads of one priority take turns."""

from __future__ import annotations

import pytest
import redis

from workers.state.admission import Admission
from workers.state.ledger import Ledger


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def _load(client: redis.Redis, load_id: str, priority: str | None = None) -> None:
    params = {"source": f"s3://b/{load_id}.csv", "object": "leads"}
    if priority:
        params["priority"] = priority
    Ledger(client).create_load(load_id, params)


def _enqueue(admission: Admission, load_id: str, chunks: int) -> None:
    for index in range(chunks):
        assert admission.enqueue(f"{load_id}:{index}")


def test_high_goes_before_normal_and_normal_before_low_whatever_came_first(
    client: redis.Redis,
) -> None:
    _load(client, "low", "low")
    _load(client, "normal")  # no priority in the payload: normal
    _load(client, "high", "high")
    admission = Admission(client, "inst", max_outstanding=10)
    _enqueue(admission, "low", 3)
    _enqueue(admission, "normal", 3)
    _enqueue(admission, "high", 2)
    snapshot = admission.snapshot()
    assert snapshot.waiting == 8
    assert snapshot.waiting_by_priority == {"high": 2, "normal": 3, "low": 3}
    assert snapshot.loads_waiting_by_priority == {"high": 1, "normal": 1, "low": 1}

    granted = admission.grant(limit=6)

    assert granted == ["high:0", "high:1", "normal:0", "normal:1", "normal:2", "low:0"]
    assert admission.snapshot().waiting_by_priority == {"high": 0, "normal": 0, "low": 2}


def test_loads_of_one_priority_take_turns_however_many_chunks_each_queued_first(
    client: redis.Redis,
) -> None:
    for load_id in ("big", "small", "tiny"):
        _load(client, load_id)
    admission = Admission(client, "inst", max_outstanding=10)
    _enqueue(admission, "big", 60)  # queued first, all of it
    _enqueue(admission, "small", 5)
    _enqueue(admission, "tiny", 2)

    granted = admission.grant()

    assert granted == [
        "big:0", "small:0", "tiny:0", "big:1", "small:1", "tiny:1",
        "big:2", "small:2", "big:3", "small:3",
    ]  # fmt: skip
    for _ in range(3):  # one permit frees at a time: the load granted longest ago is next
        admission.release(granted.pop(0))
        granted += admission.grant()
    assert granted[-3:] == ["big:4", "small:4", "big:5"]
    assert admission.snapshot().loads_waiting_by_priority["normal"] == 1


def test_a_high_load_arriving_behind_a_full_queue_gets_the_next_free_permit(
    client: redis.Redis,
) -> None:
    _load(client, "big")
    _load(client, "urgent", "high")
    admission = Admission(client, "inst", max_outstanding=3)
    _enqueue(admission, "big", 20)
    held = admission.grant()
    assert held == ["big:0", "big:1", "big:2"]
    _enqueue(admission, "urgent", 2)
    assert admission.grant() == [], "never above the maximum, whatever the priority"

    admission.release("big:0")
    assert admission.grant() == ["urgent:0"]
    admission.release("big:1")
    admission.release("big:2")
    assert admission.grant() == ["urgent:1", "big:3"]


def test_a_chunk_put_back_after_1016_is_the_next_of_its_priority_granted(
    client: redis.Redis,
) -> None:
    for load_id in ("a", "b"):
        _load(client, load_id)
    admission = Admission(client, "inst", max_outstanding=1, clock=lambda: 1_000_000.0)
    _enqueue(admission, "a", 3)
    _enqueue(admission, "b", 3)
    assert admission.grant() == ["a:0"]
    admission.requeue_front("a:0")  # e.g. the daily quota: back first in line, no hold
    assert admission.grant() == ["a:0"], "a:0 is first again, though b's turn had come"
    admission.release("a:0")
    assert admission.grant() == ["b:0"], "and the turns go on from there"


def test_a_load_taken_out_of_line_leaves_its_turn_to_the_others(client: redis.Redis) -> None:
    for load_id in ("a", "b"):
        _load(client, load_id)
    admission = Admission(client, "inst", max_outstanding=10)
    _enqueue(admission, "a", 2)
    _enqueue(admission, "b", 2)
    assert admission.withdraw("a:1")
    assert not admission.withdraw("a:1")
    assert admission.snapshot().loads_waiting_by_priority["normal"] == 2
    assert admission.withdraw("a:0")

    assert admission.snapshot().loads_waiting_by_priority["normal"] == 1
    assert admission.grant() == ["b:0", "b:1"]
    assert admission.snapshot().loads_waiting_by_priority["normal"] == 0


def test_chunks_left_in_the_single_line_of_the_earlier_version_are_granted_in_order(
    client: redis.Redis,
) -> None:
    _load(client, "old")
    _load(client, "urgent", "high")
    # What a fleet of the earlier version left: one line for every load, by sequence.
    client.zadd("mkto:admission:{inst}:waiting", {"old:0": 1, "old:1": 2, "urgent:0": 3})
    client.set("mkto:admission:{inst}:sequence", 3)
    admission = Admission(client, "inst", max_outstanding=10)
    admission.enqueue("old:2")

    assert admission.grant() == ["urgent:0", "old:0", "old:1", "old:2"]
    assert not client.exists("mkto:admission:{inst}:waiting")
