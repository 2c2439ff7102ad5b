"""The split lease: one splitter per load, kept alive by a heartbeat while it works.

A splitter holds a short lease (``SPLIT_LEASE_S``, 30 s) and a background
thread renews it every ``SPLIT_LEASE_RENEW_S`` (5 s), so a live split keeps it
however slow its source, and a killed one frees it within one lifetime; the
reconciler then runs the split again. Renewal and release are owner-checked in
Lua, so a splitter whose lease was taken over can never extend or delete the
new owner's lease; it notices at its next renewal and stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.exceptions import RedisError

from workers.errors import LeaseLost
from workers.state import keys as redis_keys
from workers.state.lease import Lease

logger = logging.getLogger(__name__)


class SplitLease:
    """One splitter per load at a time; a redelivered copy finds the lease taken and leaves."""

    def __init__(self, client: redis.Redis, load_id: str, lease_s: float, renew_s: float) -> None:
        self._lease = Lease(client, redis_keys.split_lease(load_id), lease_s)
        self._key = self._lease.key
        self._renew_s = renew_s
        self._lost = threading.Event()

    def acquire(self) -> bool:
        return self._lease.acquire()

    def renew(self) -> bool:
        """Extend our lease; False (and lost from then on) if it is no longer ours."""
        if not self._lease.renew():
            self._lost.set()
        return not self._lost.is_set()

    def check(self) -> None:
        """Raise LeaseLost once another splitter may have taken over."""
        if self._lost.is_set():
            raise LeaseLost(f"{self._key}: the split lease ran out and was not renewed")

    def release(self) -> None:
        self._lease.release()

    @contextmanager
    def kept(self) -> Iterator[SplitLease]:
        """Renew in the background until the block ends, then release."""
        stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(stop,), name=f"lease:{self._key}", daemon=True
        )
        beat.start()
        try:
            yield self
        finally:
            stop.set()
            beat.join()
            self.release()

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(self._renew_s):
            try:
                if not self.renew():
                    logger.warning("%s: lease lost, this split stops", self._key)
                    return
            except RedisError as error:  # a Redis restart: keep trying while the lease lasts
                logger.warning("%s: could not renew (%s), trying again", self._key, error)
