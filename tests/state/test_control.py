"""Cancel and resume requests in Redis: atomic against the grant, idempotent, refused plainly."""

from __future__ import annotations

import multiprocessing

import pytest
import redis

from workers.errors import LedgerError
from workers.state.admission import Admission
from workers.state.control import LoadControl, Outcome
from workers.state.ledger import ACTIVE_LOADS, ChunkState, Ledger, LoadState


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def _load(client: redis.Redis, load_id: str, chunks: int, state: LoadState) -> Ledger:
    ledger = Ledger(client)
    ledger.create_load(load_id, {"source": f"s3://b/{load_id}.csv", "object": "leads"})
    for index in range(chunks):
        ledger.add_chunk(load_id, index, {"rows": 10 + index, "bytes": 100, "uri": "s3://b/c"})
    if state != LoadState.PENDING:
        ledger.update_load(load_id, [LoadState.PENDING], state)
    return ledger


def test_a_cancel_takes_effect_at_once_and_a_second_one_changes_nothing(
    client: redis.Redis,
) -> None:
    _load(client, "L", 0, LoadState.LOADING)
    control = LoadControl(client, clock=lambda: 1000.0)

    first = control.request_cancel("L")
    assert (first.outcome, first.state) == (Outcome.CANCELLING, LoadState.CANCELLING)
    assert "nothing more is sent" in first.message

    again = LoadControl(client, clock=lambda: 2000.0).request_cancel("L")
    assert again.outcome == Outcome.ALREADY_CANCELLED and not again.refused
    assert again.message == "load L is already cancelling; nothing changed"
    assert control.ledger.load("L").cancel_requested_at == 1000.0


def test_a_pending_load_cancelled_is_never_split(client: redis.Redis) -> None:
    _load(client, "P", 0, LoadState.PENDING)
    LoadControl(client).request_cancel("P")
    load = Ledger(client).load("P")
    assert load.state == LoadState.CANCELLING
    assert load.chunks_total == 0 and load.split_stopped, "the split has nothing to do"


@pytest.mark.parametrize("state", [LoadState.SUCCEEDED, LoadState.FAILED])
def test_a_load_that_ended_cannot_be_cancelled(client: redis.Redis, state: LoadState) -> None:
    _load(client, "E", 0, state)
    answer = LoadControl(client).request_cancel("E")
    assert answer.refused and answer.state == state
    assert answer.message == f"load E already ended {state.value}: there is nothing to cancel"
    with pytest.raises(LedgerError):
        LoadControl(client).request_cancel("nope")


def test_the_cancel_closes_the_line_so_each_chunk_is_sent_or_cancelled_never_both(
    client: redis.Redis,
) -> None:
    ledger = _load(client, "L", 5, LoadState.LOADING)
    admission = Admission(client, "inst", max_outstanding=2)
    for index in range(5):
        assert admission.enqueue(f"L:{index}")
    granted = admission.grant(limit=1)  # granted an instant before the cancel
    assert granted == ["L:0"]

    LoadControl(client).request_cancel("L")
    assert admission.grant() == [], "a cancelled load gets no more permits"
    assert admission.cancel_waiting("L") == [1, 2, 3, 4]
    assert admission.cancel_waiting("L") == [], "idempotent"

    assert ledger.chunk("L", 0).state == ChunkState.WAITING, "granted: it is submitted"
    assert admission.holds("L:0")
    load = ledger.load("L")
    assert (load.chunks_cancelled, load.rows_cancelled) == (4, 11 + 12 + 13 + 14)
    assert all(ledger.chunk("L", i).state == ChunkState.CANCELLED for i in range(1, 5))
    assert admission.snapshot().waiting == 0
    # A chunk back from Marketo unsent (1016) is not put back in a closed line.
    assert not admission.too_many_imports("L:0", hold_s=1)
    assert not admission.holds("L:0") and not admission.enqueue("L:0")


def _grant_and_release(url: str, rounds: int, results: multiprocessing.Queue) -> None:
    """What the pump and a job do with each grant: submitting, done, permit back."""
    client = redis.Redis.from_url(url)
    admission, ledger = Admission(client, "race", max_outstanding=3), Ledger(client)
    granted: list[str] = []
    for _ in range(rounds):
        for chunk in admission.grant(limit=1):
            load_id, index = Ledger.parse_chunk_id(chunk)
            moved = ledger.move_chunk(load_id, index, [ChunkState.WAITING], ChunkState.SUBMITTING)
            granted.append(chunk if moved.applied else f"lost {chunk}")
            ledger.move_chunk(load_id, index, [ChunkState.SUBMITTING], ChunkState.DONE)
            admission.release(chunk)
    results.put(granted)


def test_grants_racing_a_cancel_leave_every_chunk_granted_or_cancelled_exactly_once(
    redis_url: str,
) -> None:
    client = redis.Redis.from_url(redis_url)
    ledger = _load(client, "L", 400, LoadState.LOADING)
    admission = Admission(client, "race", max_outstanding=3)
    for index in range(400):
        admission.enqueue(f"L:{index}")
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    racers = [context.Process(target=_grant_and_release, args=(redis_url, 300, results))
              for _ in range(2)]  # fmt: skip
    for racer in racers:
        racer.start()

    def granted_some() -> bool:
        return admission.snapshot().waiting < 350

    from tests.services import wait_for

    wait_for(granted_some, timeout=60, interval=0.01, what="the racers to take some chunks")
    LoadControl(client).request_cancel("L")
    cancelled = {f"L:{i}" for i in admission.cancel_waiting("L")}
    granted = [chunk for _ in racers for chunk in results.get(timeout=60)]
    for racer in racers:
        racer.join(30)

    assert not [chunk for chunk in granted if chunk.startswith("lost")], "granted, then cancelled"
    assert len(granted) == len(set(granted)), "no chunk granted twice"
    assert not cancelled & set(granted), "no chunk both granted and cancelled"
    assert cancelled | set(granted) == {f"L:{i}" for i in range(400)}, "none lost"
    assert 0 < len(cancelled) < 350
    assert ledger.load("L").chunks_cancelled == len(cancelled)


def test_a_cancelled_load_resumes_once_and_comes_back_among_the_active_loads(
    client: redis.Redis,
) -> None:
    ledger = _load(client, "L", 3, LoadState.LOADING)
    admission = Admission(client, "inst")
    for index in range(3):
        admission.enqueue(f"L:{index}")
    LoadControl(client).request_cancel("L")
    admission.cancel_waiting("L")
    ledger.update_load("L", [LoadState.CANCELLING], LoadState.CANCELLED, {"finished_at": 5.0})
    client.srem(ACTIVE_LOADS, "L")

    answer = LoadControl(client).request_resume("L")

    assert (answer.outcome, answer.state) == (Outcome.RESUMED, LoadState.LOADING)
    assert "3 unsent or failed chunks go back in line" in answer.message
    load = ledger.load("L")
    assert load.resuming and load.resumes == 1
    assert load.finished_at is None and load.cancel_requested_at is None
    assert client.sismember(ACTIVE_LOADS, "L"), "the reconciler sees it again"
    again = LoadControl(client).request_resume("L")
    assert again.outcome == Outcome.NOTHING_TO_DO and "being resumed" in again.message
    assert ledger.load("L").resumes == 1


def test_a_load_cancelled_while_splitting_resumes_into_splitting(client: redis.Redis) -> None:
    ledger = _load(client, "S", 0, LoadState.PENDING)
    LoadControl(client).request_cancel("S")  # before its split: nothing of it was read
    ledger.update_load("S", [LoadState.CANCELLING], LoadState.CANCELLED)

    answer = LoadControl(client).request_resume("S")

    assert answer.state == LoadState.SPLITTING and "the split goes on" in answer.message
    load = ledger.load("S")
    assert load.chunks_total is None and not load.split_stopped


@pytest.mark.parametrize(
    ("state", "fields", "outcome", "says"),
    [
        (LoadState.LOADING, {}, Outcome.NOTHING_TO_DO, "load R is loading: nothing to resume"),
        (LoadState.SUCCEEDED, {}, Outcome.REFUSED, "load R succeeded: there is nothing to resume"),
        (LoadState.COUNTS_MISMATCH, {"error": "counts do not add up: x"}, Outcome.REFUSED,
         "ended counts_mismatch (counts do not add up: x)"),
        (LoadState.FAILED, {"error": "s3://b/k: header only"}, Outcome.REFUSED,
         "failed with its source: s3://b/k: header only; fix the source"),
        (LoadState.CANCELLING, {}, Outcome.REFUSED, "resume it once it is cancelled"),
    ],
)  # fmt: skip
def test_a_resume_says_plainly_why_it_does_nothing(
    client: redis.Redis, state: LoadState, fields: dict[str, str], outcome: Outcome, says: str
) -> None:
    ledger = _load(client, "R", 1, LoadState.PENDING)
    ledger.update_load("R", [LoadState.PENDING], state, fields)  # type: ignore[arg-type]

    answer = LoadControl(client).request_resume("R")

    assert answer.outcome == outcome and says in answer.message, answer.message
    assert ledger.load("R").state == state and ledger.load("R").resumes == 0
