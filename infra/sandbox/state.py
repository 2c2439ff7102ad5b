"""Everything one sandbox instance remembers, behind one lock.

A single lock keeps the model simple and exact (limits, queue admission and
stats never race); slow work (multipart parsing, row checks, injected delays)
happens outside it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from infra.sandbox.clock import Clock
from infra.sandbox.config import Schema, Settings
from infra.sandbox.faults import Faults
from infra.sandbox.identity import TokenStore
from infra.sandbox.importer import finish_job
from infra.sandbox.ingestion.pending import IngestionLog, apply_request
from infra.sandbox.limits import Limits
from infra.sandbox.queue import ImportJob, ImportQueue
from infra.sandbox.records import Store


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(client_id={self.client_id!r}, client_secret='***')"


class SandboxState:
    """The instance: config, clock, tokens, limits, faults, queue, records and counters."""

    def __init__(self, settings: Settings, schema: Schema, credentials: Credentials) -> None:
        self.lock = threading.RLock()
        self.startup_settings = settings
        self.settings = settings
        self.schema = schema
        self.credentials = credentials
        self.clock = Clock()
        self.tokens = TokenStore()
        self.limits = Limits()
        self.faults = Faults(settings.faults.seed)
        self.queue = ImportQueue()
        self.store = Store(schema)
        self.store.reset()
        self.ingestion = IngestionLog()
        self.calls = 0
        self.calls_by_endpoint: Counter[str] = Counter()
        self.calls_by_code: Counter[str] = Counter()

    def reset(self) -> None:
        """Back to the startup config with no jobs, records, tokens, counters or faults."""
        with self.lock:
            self.settings = self.startup_settings
            self.clock.reset()
            self.tokens.reset()
            self.limits.reset()
            self.faults.reset(self.settings.faults.seed)
            self.queue.reset()
            self.store.reset()
            self.ingestion.reset()
            self.calls = 0
            self.calls_by_endpoint.clear()
            self.calls_by_code.clear()

    def update_settings(self, settings: Settings) -> None:
        with self.lock:
            if settings.faults.seed != self.settings.faults.seed:
                self.faults.rng.seed(settings.faults.seed)
            self.settings = settings

    def settle(self, *, drain: bool = False) -> float:
        """Finish due jobs, apply due Data Ingestion requests (all pending ones when
        ``drain``) in time order with the jobs, expire old batches; returns the time used.

        Requests are applied one at a time, each under the lock, which is let go
        between them: a long apply never holds up the calls that arrive meanwhile
        (unless the caller holds the lock itself, as ``drain`` and ``settled`` do).
        Each step takes the next request in order, so concurrent settles still
        apply everything once, in order, and none returns before what was due when
        it began is applied.
        """
        with self.lock:
            now = self.clock.now()
        until = float("inf") if drain else now
        while True:
            with self.lock:
                request = self.ingestion.next_due(until)
                if request is None:
                    self.queue.settle(now, self._finish_at(now))
                    self.queue.expire(now, self.settings.batch_ttl_s)
                    return now
                at = min(request.apply_at or now, now)
                self.queue.settle(at, self._finish_at(now))
                apply_request(request, self.store, self.schema, at)
            time.sleep(0)  # let a call waiting for the lock take it (no lock is fair)

    @contextlib.contextmanager
    def settled(self) -> Iterator[float]:
        """The lock, held, with everything due by now applied (the time is yielded): what
        an admin read or a status poll sees. The bulk of a long apply happens before
        the lock is taken for good, in steps."""
        self.settle()
        with self.lock:
            yield self.settle()

    def _finish_at(self, now: float) -> Callable[[ImportJob], None]:
        def finish(job: ImportJob) -> None:
            finish_job(job, self.store, now)

        return finish

    def record_call(self, endpoint: str, code: str) -> None:
        with self.lock:
            self.calls += 1
            self.calls_by_endpoint[endpoint] += 1
            self.calls_by_code[code] += 1

    def stats(self) -> dict[str, Any]:
        with self.settled() as now:
            return {
                "calls": self.calls,
                "calls_by_endpoint": dict(self.calls_by_endpoint),
                "calls_by_code": dict(self.calls_by_code),
                "too_many_imports_sent": self.queue.too_many_imports,
                "max_outstanding_jobs": self.queue.max_outstanding,
                "max_importing_jobs": self.queue.max_importing(now),
                "max_calls_in_window": self.limits.max_in_window,
                "max_concurrent_calls": self.limits.max_inflight,
                "concurrent_calls": self.limits.inflight,
                "tokens_issued": self.tokens.issued,
                "daily_calls": self.limits.daily_calls(now, self.settings),
                "daily_calls_by_user": self.limits.usage(now, self.settings)[2],
                "records": self.store.counts(),
                "jobs": self.queue.counts(now),
                "faults_injected": dict(self.faults.injected),
                "now": now,
            }
