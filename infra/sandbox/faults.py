"""Faults on demand: random rates from a seeded RNG, and an exact queue for the next N calls."""

from __future__ import annotations

import random
from dataclasses import dataclass

from infra.sandbox.config import FaultRates

QUEUEABLE = (
    "606", "615", "604", "5xx", "502", "503", "slow", "drop", "job_failed", "601", "602",
    "skip_row", "garbled", "429", "500",
)  # fmt: skip
# Faults only the Data Ingestion API answers: 429 429001 and 500 5000801.
INGESTION_FAULTS = ("429", "500")
# Faults that only match calls creating an import job: the job fails, or it silently
# leaves its last row out (neither processed nor failed: counts that do not add up).
JOB_FAULTS = ("job_failed", "skip_row")
# Order in which random faults are rolled; at most one applies per call.
_ROLL_ORDER = ("drop", "5xx", "615", "606", "604", "slow")


@dataclass
class QueuedFault:
    fault: str
    remaining: int
    path_prefix: str | None


class Faults:
    """Which fault, if any, a call gets; the caller holds the state lock."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.queue: list[QueuedFault] = []
        self.injected: dict[str, int] = {}

    def reset(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.queue.clear()
        self.injected.clear()

    def enqueue(self, fault: str, count: int, path_prefix: str | None) -> None:
        self.queue.append(QueuedFault(fault, count, path_prefix))

    def next_for(
        self,
        path: str,
        rates: FaultRates,
        *,
        identity: bool,
        import_call: bool,
        ingestion: bool = False,
    ) -> str:
        """The fault for this call ("" for none). Queued faults first, then random rates.

        A queued fault without a prefix matches any Marketo call except identity;
        ``job_failed`` and ``skip_row`` only match calls that create an import job,
        ``429`` and ``500`` only Data Ingestion calls.
        ``garbled`` answers success with a batchId that is not a number (no job made).
        """
        for entry in self.queue:
            if entry.fault in JOB_FAULTS and not import_call:
                continue
            if entry.fault in INGESTION_FAULTS and not ingestion:
                continue
            if entry.path_prefix is None:
                if identity:
                    continue
            elif not path.startswith(entry.path_prefix):
                continue
            entry.remaining -= 1
            if entry.remaining <= 0:
                self.queue.remove(entry)
            return self._count(entry.fault)
        if identity:
            return ""
        for fault in _ROLL_ORDER:
            rate = rates.rates.get(fault, 0.0)
            if rate > 0 and self.rng.random() < rate:
                return self._count(fault)
        return ""

    def job_fails(self, rates: FaultRates) -> bool:
        rate = rates.rates.get("job_failed", 0.0)
        return rate > 0 and self.rng.random() < rate

    def pending(self) -> list[dict[str, object]]:
        return [
            {"fault": e.fault, "remaining": e.remaining, "path_prefix": e.path_prefix}
            for e in self.queue
        ]

    def _count(self, fault: str) -> str:
        self.injected[fault] = self.injected.get(fault, 0) + 1
        return fault
