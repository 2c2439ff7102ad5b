"""Cancelling and resuming a load: the one step of each that decides, atomically in Redis.

A cancel is one compare-and-set of the load's state to ``cancelling``: from that
instant the admission grants the load nothing and queues none of its chunks
(its line is closed), so every chunk is either sent (granted before) or
cancelled (``Admission.cancel_waiting``). A resume is one script that moves a
``cancelled`` or ``failed`` load back to ``loading`` (or ``splitting``, when the
cancel stopped its split) and back among the active loads, with ``resuming``
set until its chunks are back in line (``workers/pipeline/resume.py``).

Both only need Redis, so the command line and the Python API make them
directly; the rest is the workers' (and, after a crash, the reconciler's).
Each is idempotent: a second cancel or resume says what the first did.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis

from workers.state import keys as redis_keys
from workers.state import scripts
from workers.state.ledger import ACTIVE_LOADS, Ledger
from workers.state.records import Chunk, ChunkState, Load, LoadFields, LoadState
from workers.state.redis_text import text

RUNNING = (LoadState.PENDING, LoadState.SPLITTING, LoadState.LOADING)
SUCCEEDED = (LoadState.SUCCEEDED, LoadState.SUCCEEDED_WITH_ROW_ERRORS)


class Outcome(StrEnum):
    CANCELLING = "cancelling"  # the cancel took: nothing more is sent, jobs in Marketo finish
    ALREADY_CANCELLED = "already-cancelled"  # cancelling or cancelled before: nothing changed
    RESUMED = "resumed"  # back to loading; its unsent and failed chunks go back in line
    NOTHING_TO_DO = "nothing-to-do"  # e.g. a resume of a load that is still loading
    REFUSED = "refused"  # not for a load in its state (the message says why)


@dataclass(frozen=True)
class ControlAnswer:
    """What a cancel or a resume did, in words for the command line."""

    load_id: str
    outcome: Outcome
    state: LoadState  # the load's state after it
    message: str

    @property
    def refused(self) -> bool:
        return self.outcome == Outcome.REFUSED

    def as_dict(self) -> dict[str, Any]:
        return {
            "load_id": self.load_id,
            "outcome": self.outcome.value,
            "state": self.state.value,
            "message": self.message,
        }


def redrivable(chunk: Chunk) -> bool:
    """A chunk a resume puts back in line: never sent (cancelled), or failed after it was."""
    return chunk.state == ChunkState.CANCELLED or (
        chunk.state == ChunkState.FAILED and not chunk.not_submitted
    )


class LoadControl:
    """Cancel and resume requests on the ledger; every method is safe to repeat."""

    def __init__(self, client: redis.Redis, clock: Callable[[], float] = time.time) -> None:
        self._redis = client
        self._clock = clock
        self.ledger = Ledger(client, clock)
        self._reopen = scripts.register(client, "workers.state", "ledger_reopen")

    def request_cancel(self, load_id: str) -> ControlAnswer:
        """Close the load's line: ``cancelling`` at once (LedgerError if there is no load)."""
        load = self.ledger.load(load_id)
        for _ in range(len(RUNNING)):  # the state moves on at most that often meanwhile
            fields: LoadFields = {"cancel_requested_at": self._clock()}
            if load.state == LoadState.PENDING:  # no split ran: nothing of its source was read
                fields["chunks_total"] = 0
                fields["split_stopped"] = 1
                allowed = [LoadState.PENDING]
            elif load.state in RUNNING:
                allowed = [LoadState.SPLITTING, LoadState.LOADING]
            else:
                break
            moved = self.ledger.update_load(load_id, allowed, LoadState.CANCELLING, fields)
            if moved.applied:
                return ControlAnswer(load_id, Outcome.CANCELLING, LoadState.CANCELLING, (
                    f"load {load_id} is cancelling: nothing more is sent; the jobs already "
                    "in Marketo finish, and then it ends cancelled with its report"
                ))  # fmt: skip
            load = self.ledger.load(load_id)
        if load.state in (LoadState.CANCELLING, LoadState.CANCELLED):
            return ControlAnswer(
                load_id, Outcome.ALREADY_CANCELLED, load.state,
                f"load {load_id} is already {load.state.value}; nothing changed",
            )  # fmt: skip
        return ControlAnswer(load_id, Outcome.REFUSED, load.state, (
            f"load {load_id} already ended {load.state.value}: there is nothing to cancel"
        ))  # fmt: skip

    def request_resume(self, load_id: str) -> ControlAnswer:
        """Back to work if cancelled or failed (LedgerError if there is no load)."""
        for _ in range(2):
            load, chunks = self.ledger.snapshot(load_id)
            answer = _not_resumable(load, chunks)
            if answer is not None:
                return answer
            stopped = load.split_stopped
            state = LoadState.SPLITTING if stopped else LoadState.LOADING
            fields: dict[str, Any] = {"resuming": 1}
            if stopped:
                fields["chunks_total"] = -1  # unknown again until the split reaches the end
            keys = [redis_keys.load(load_id), ACTIVE_LOADS]
            args = [
                json.dumps([load.state.value]), state.value, json.dumps(fields),
                json.dumps(["finished_at", "cancel_requested_at", "split_stopped"]),
                json.dumps({"resumes": 1}), repr(self._clock()), load_id,
            ]  # fmt: skip
            if text(self._reopen(keys=keys, args=args)) != "OK":
                continue  # it moved meanwhile: look again
            count = sum(1 for chunk in chunks if redrivable(chunk))
            rest = "; the split goes on from where it stopped" if stopped else ""
            return ControlAnswer(load_id, Outcome.RESUMED, state, (
                f"load {load_id} resumed from {load.state.value}: {count} unsent or failed "
                f"chunks go back in line{rest}; chunks already done are not sent again"
            ))  # fmt: skip
        load = self.ledger.load(load_id)
        return ControlAnswer(load_id, Outcome.NOTHING_TO_DO, load.state, (
            f"load {load_id} changed while resuming (now {load.state.value}); nothing done"
        ))  # fmt: skip


def _not_resumable(load: Load, chunks: list[Chunk]) -> ControlAnswer | None:
    """Why a resume does nothing or is refused for this load; None if it may resume."""
    load_id, state = load.load_id, load.state
    if load.resuming or state in RUNNING:
        doing = "being resumed" if load.resuming else state.value
        return ControlAnswer(load_id, Outcome.NOTHING_TO_DO, state, (
            f"load {load_id} is {doing}: nothing to resume"
        ))  # fmt: skip
    if state == LoadState.CANCELLING:
        why = "it is being cancelled (its jobs in Marketo are finishing); resume it once it is"
        return ControlAnswer(load_id, Outcome.REFUSED, state, f"load {load_id}: {why} cancelled")
    if state in SUCCEEDED:
        return ControlAnswer(load_id, Outcome.REFUSED, state, (
            f"load {load_id} {state.value}: there is nothing to resume (a resume re-drives "
            "a failed or cancelled load; to load rows again, start a new load)"
        ))  # fmt: skip
    if state == LoadState.COUNTS_MISMATCH:
        return ControlAnswer(load_id, Outcome.REFUSED, state, (
            f"load {load_id} ended counts_mismatch ({load.error}); check its report, "
            "then start a new load"
        ))  # fmt: skip
    if load.error:
        return ControlAnswer(load_id, Outcome.REFUSED, state, (
            f"load {load_id} {state.value} with its source: {load.error}; fix the source and "
            "start a new load"
        ))  # fmt: skip
    if not load.split_stopped and not any(redrivable(chunk) for chunk in chunks):
        return ControlAnswer(load_id, Outcome.NOTHING_TO_DO, state, (
            f"load {load_id} is {state.value}, but every chunk was sent and finished: "
            "nothing to resume"
        ))  # fmt: skip
    return None
