"""The ledger: atomic, idempotent state transitions for loads and chunks."""

from __future__ import annotations

import pytest
import redis

from workers.state.ledger import ACTIVE_LOADS, ChunkState, Ledger, LedgerError, LoadState


@pytest.fixture
def ledger(redis_url: str) -> Ledger:
    return Ledger(redis.Redis.from_url(redis_url))


def test_the_same_idempotency_key_returns_the_existing_load(ledger: Ledger) -> None:
    first, created = ledger.create_load("load-1", {"source": "s3://b/k"}, "nightly:2026-11-22")
    again, created_again = ledger.create_load(
        "load-2", {"source": "s3://b/k"}, "nightly:2026-11-22"
    )
    assert (first, created) == ("load-1", True)
    assert (again, created_again) == ("load-1", False)
    assert ledger.recent_loads() == ["load-1"]


def test_a_new_load_is_recorded_indexed_and_active_in_one_step(ledger: Ledger) -> None:
    load_id, created = ledger.create_load(
        "load-1", {"source": "s3://b/k"}, "nightly:2026-11-23", {"staging": "s3://s/load-1"}
    )
    client = ledger._redis
    assert (load_id, created) == ("load-1", True)
    assert ledger.load("load-1").staging == "s3://s/load-1"
    assert ledger.load("load-1").state == LoadState.PENDING
    assert client.sismember(ACTIVE_LOADS, "load-1"), "the reconciler must see it from the start"
    assert client.get("mkto:idempotency:nightly:2026-11-23") == b"load-1"


def test_an_idempotency_key_never_names_a_load_that_was_not_recorded(ledger: Ledger) -> None:
    """A load id that exists already (a redelivered start) does not claim a new key."""
    ledger.create_load("load-1", {"source": "a"})
    assert ledger.create_load("load-1", {"source": "a"}, "key-A") == ("load-1", False)
    assert ledger._redis.get("mkto:idempotency:key-A") is None
    assert ledger.create_load("load-2", {"source": "a"}, "key-A") == ("load-2", True)


def test_creating_a_load_twice_does_not_reset_it(ledger: Ledger) -> None:
    ledger.create_load("load-1", {"source": "a"})
    ledger.update_load("load-1", [LoadState.PENDING], LoadState.SPLITTING)
    assert ledger.create_load("load-1", {"source": "b"}) == ("load-1", False)
    assert ledger.load("load-1").state == LoadState.SPLITTING


def test_a_repeated_transition_is_applied_once_and_rolls_up_once(ledger: Ledger) -> None:
    ledger.create_load("L", {})
    assert ledger.add_chunk("L", 0, {"rows": 10, "bytes": 100})
    assert not ledger.add_chunk("L", 0, {"rows": 99, "bytes": 999}), "recorded once"
    ledger.move_chunk("L", 0, [ChunkState.WAITING], ChunkState.SUBMITTING)
    ledger.move_chunk("L", 0, [ChunkState.SUBMITTING], ChunkState.SUBMITTED, {"batch_id": "7"})
    for _ in range(2):  # a redelivered poll repeats the step
        ledger.move_chunk(
            "L", 0, [ChunkState.SUBMITTED], ChunkState.COLLECTING,
            {"processed": 8, "failed": 2}, {"rows_processed": 8, "rows_failed": 2},
        )  # fmt: skip
    outcome = ledger.move_chunk("L", 0, [ChunkState.SUBMITTED], ChunkState.DONE)
    assert not outcome.applied and outcome.found == "collecting"
    assert ledger.load("L").rows_processed == 8
    assert ledger.load("L").rows_failed == 2
    assert ledger.chunk("L", 0).batch_id == "7"
    assert ledger.chunk("L", 0).rows == 10


def test_chunks_are_listed_in_order_and_unknown_ones_are_an_error(ledger: Ledger) -> None:
    ledger.create_load("L", {})
    for index in (2, 0, 1):
        ledger.add_chunk("L", index, {"rows": index})
    assert [c.index for c in ledger.chunks("L")] == [0, 1, 2]
    with pytest.raises(LedgerError, match="no chunk 9"):
        ledger.move_chunk("L", 9, [ChunkState.WAITING], ChunkState.SUBMITTING)
    assert Ledger.parse_chunk_id(Ledger.chunk_id("a:b", 3)) == ("a:b", 3)


def test_double_submissions_are_counted(ledger: Ledger) -> None:
    ledger.create_load("L", {})
    ledger.add_chunk("L", 0, {})
    assert ledger.count_submission("L", 0) == 1
    assert ledger.count_submission("L", 0) == 2
