"""The sandbox's own clock: wall time plus an offset that tests can push forward.

Token expiry, job progress, rate windows and the daily quota all read this one
clock, so `POST /_sandbox/clock` moves all of them together and consistently.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from functools import lru_cache


class Clock:
    """Epoch seconds that follow real time, shifted by an adjustable offset."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
        return self.now()

    def set(self, epoch: float) -> float:
        with self._lock:
            self._offset = epoch - time.time()
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0


@lru_cache(maxsize=64)
def iso_utc(epoch: float) -> str:
    """Marketo's timestamp style: ``2017-02-22T19:55:51Z`` (cached: an apply stamps each of
    its records with the same instant)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: object) -> float:
    """Epoch seconds from a number or an ISO 8601 string with an offset (``Z`` allowed)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("an ISO time needs a UTC offset, e.g. 2026-03-08T01:59:00-06:00")
        return parsed.timestamp()
    raise ValueError("expected epoch seconds or an ISO 8601 string")
