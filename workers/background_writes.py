"""Writing split files in a thread while the next ones are being cut.

File and network I/O release the GIL, as do the C scanners of
``workers._textscan``: with the writes in their own thread, reading and
checking the input overlaps with writing the output (on two cores a split
runs at about the speed of the slower of the two instead of their sum).
At most ``max_pending`` files wait or are being written at a time, so memory
stays at a few files whatever the input size. A file counts as written only
once ``written`` says so; a failed write raises from there or from ``close``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from workers.storage import Storage

MAX_PENDING = 2


class BackgroundWrites:
    """Puts objects through ``storage`` in one background thread, in submission order."""

    def __init__(self, storage: Storage, max_pending: int = MAX_PENDING) -> None:
        self.storage = storage
        self.max_pending = max_pending
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="split-write")
        self._futures: list[Future[int]] = []
        self._waiting: deque[Future[int]] = deque()
        self._confirmed = 0

    def submit(self, uri: str, pieces: Sequence[bytes | memoryview]) -> None:
        """Queue one file (waits while ``max_pending`` files are still unwritten)."""
        while len(self._waiting) >= self.max_pending:
            self._waiting.popleft().result()
        future = self._executor.submit(self.storage.put, uri, pieces)
        self._futures.append(future)
        self._waiting.append(future)

    def written(self, count: int, *, wait: bool = False) -> int:
        """How many of the first ``count`` files are written (all of them when ``wait``)."""
        while self._confirmed < min(count, len(self._futures)):
            future = self._futures[self._confirmed]
            if not (wait or future.done()):
                break
            future.result()  # raises the write's error, if any
            self._confirmed += 1
        return min(count, self._confirmed)

    def close(self) -> None:
        """Wait for every queued write (raising the first failure)."""
        try:
            for future in self._futures:
                future.result()
        finally:
            self._executor.shutdown(wait=True)
