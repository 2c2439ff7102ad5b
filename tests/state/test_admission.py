"""Admission control: the permit pool that keeps Marketo's import queue from overrunning."""

from __future__ import annotations

import multiprocessing
import random

import pytest
import redis

from workers.state.admission import Admission
from workers.state.ledger import Ledger


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_permits_take_turns_between_loads_and_each_load_goes_in_order(
    client: redis.Redis,
) -> None:
    admission = Admission(client, "inst", max_outstanding=3)
    for chunk in ["a:1", "a:2", "a:3", "b:1", "b:2"]:
        assert admission.enqueue(chunk)
    assert admission.grant() == ["a:1", "b:1", "a:2"]
    assert admission.grant() == []
    admission.release("b:1")
    assert admission.grant() == ["b:2"], "b was granted longest ago"
    assert admission.snapshot().outstanding == 3
    assert admission.snapshot().waiting == 1


def test_enqueue_release_and_grant_are_idempotent(client: redis.Redis) -> None:
    admission = Admission(client, "inst", max_outstanding=2)
    assert admission.enqueue("x:1")
    assert not admission.enqueue("x:1")
    assert admission.grant() == ["x:1"]
    assert not admission.enqueue("x:1"), "a chunk holding a permit is not queued again"
    assert admission.release("x:1")
    assert not admission.release("x:1")
    assert admission.snapshot().outstanding == 0


def test_the_maximum_can_never_be_set_above_marketos_ten(client: redis.Redis) -> None:
    with pytest.raises(ValueError):
        Admission(client, "inst", max_outstanding=11)


def test_too_many_imports_returns_the_permit_keeps_the_chunk_first_and_holds_everyone(
    client: redis.Redis,
) -> None:
    clock = FakeClock()
    admission = Admission(client, "inst", max_outstanding=10, clock=clock)
    for chunk in ["a:1", "a:2", "a:3"]:
        admission.enqueue(chunk)
    assert admission.grant(limit=1) == ["a:1"]
    admission.too_many_imports("a:1", hold_s=30)
    assert not admission.holds("a:1")
    assert admission.grant() == [], "nobody is granted while Marketo's queue is full"
    assert admission.snapshot().hold_s == pytest.approx(30)
    clock.now += 31
    assert admission.grant() == ["a:1", "a:2", "a:3"]


def test_an_expired_lease_is_reported_but_not_freed_until_checked(client: redis.Redis) -> None:
    clock = FakeClock()
    admission = Admission(client, "inst", max_outstanding=1, lease_s=60, clock=clock)
    admission.enqueue("a:1")
    admission.enqueue("a:2")
    assert admission.grant() == ["a:1"]
    clock.now += 61
    assert admission.expired() == ["a:1"]
    assert admission.grant() == [], "the job may still be queued in Marketo"
    assert admission.renew("a:1")
    assert admission.expired() == []
    assert not admission.renew("a:2"), "only a held permit can be renewed"


def _hammer(url: str, worker: int, rounds: int, results: multiprocessing.Queue) -> None:
    client = redis.Redis.from_url(url)
    admission = Admission(client, "shared", max_outstanding=10)
    rng = random.Random(worker)
    held: list[str] = []
    worst = 0
    for round_ in range(rounds):
        admission.enqueue(f"w{worker}:{round_}")
        held.extend(admission.grant(limit=rng.randint(1, 3)))
        worst = max(worst, int(client.zcard("mkto:admission:{shared}:permits")))
        if held and rng.random() < 0.5:
            admission.release(held.pop(rng.randrange(len(held))))
    results.put(worst)


def test_four_processes_racing_never_hold_more_than_ten_permits(redis_url: str) -> None:
    ledger = Ledger(redis.Redis.from_url(redis_url))
    for worker, priority in enumerate(["high", "normal", "low", "normal"]):  # every ring races
        ledger.create_load(f"w{worker}", {"source": "s3://b/k", "priority": priority})
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    processes = [
        context.Process(target=_hammer, args=(redis_url, n, 300, results)) for n in range(4)
    ]
    for process in processes:
        process.start()
    worst = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(30)
    assert max(worst) <= 10
    assert max(worst) == 10, "the pool was actually filled, so the cap was exercised"


def test_a_ghost_permit_takes_a_slot_until_its_job_should_be_done(client: redis.Redis) -> None:
    clock = FakeClock()
    admission = Admission(client, "inst", max_outstanding=1, clock=clock)
    admission.hold_ghost("a:1", seconds=20)
    admission.enqueue("a:2")
    assert admission.grant() == [], "the orphaned job may still be in Marketo's queue"
    assert admission.expired() == [], "ghosts are not for the reconciler to check"
    clock.now += 21
    assert admission.grant() == ["a:2"]
