"""Reading the input and writing split files in threads while the splitter checks and cuts.

File and network I/O, zlib and the C scanners of ``workers.split._textscan`` all
release the GIL: with reads and writes in their own threads, the splitter's
scanning overlaps with both (on two cores a split runs at about the speed of
its slowest stage instead of the sum of all three). Memory stays bounded:
``read_ahead`` holds at most ``depth`` blocks, ``BackgroundWrites`` at most
``max_pending`` files. Errors of the threads are raised in the caller's.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from workers.storage import Storage

MAX_PENDING = 2
READ_AHEAD = 2
_POLL_S = 0.05  # how often a blocked producer looks whether the consumer went away


class _End:
    """Marks the end of the blocks (or carries the producer's error)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(blocks: Iterator[bytes], depth: int = READ_AHEAD) -> Generator[bytes, None, None]:
    """The same blocks, produced by a thread up to ``depth`` blocks ahead of the consumer.

    When the consumer stops early (an error, a closed generator), the thread
    stops too, before this generator returns: the source can then be closed.
    """
    ready: queue.Queue[bytes | _End] = queue.Queue(depth)
    stop = threading.Event()

    def offer(item: bytes | _End) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for block in blocks:
                if not offer(block):
                    return
        except BaseException as error:  # raised again in the consumer's thread
            offer(_End(error))
            return
        offer(_End())

    # The caller's context (its log fields, its trace) goes with the work into the thread.
    run = contextvars.copy_context().run
    thread = threading.Thread(target=run, args=(produce,), name="split-read", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        thread.join()


class BackgroundWrites:
    """Puts objects through ``storage`` in one background thread, in submission order.

    A file counts as written only once ``written`` says so; a failed write
    raises from there or from ``close``.
    """

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
        run = contextvars.copy_context().run  # the caller's log fields and trace
        future = self._executor.submit(run, self.storage.put, uri, pieces)
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
