"""A worker must survive a Redis restart: a small, version-guarded fix to kombu's Redis channel.

What goes wrong (kombu 5.7.0, redis-py 8.1, celery 5.7.0), step by step, when
Redis restarts under a worker that holds unacknowledged (``acks_late``)
messages:

1. The consumer sees the connection drop and calls ``connection.collect()``.
   Closing the default channel there is cut short by the dead socket (its
   BRPOP read raises ``ConnectionError``), so the channel stays open, and
   ``collect`` then detaches the transport from its connection
   (``transport.client = None``).
2. Celery then calls ``connection.close()``, which closes that channel again.
   This time it gets as far as ``restore_unacked_once``, which needs a new
   Redis pool; ``Channel._connparams`` reads ``self.connection.client.hostname``
   from the detached transport and raises ``AttributeError: 'NoneType' object
   has no attribute 'hostname'``.
3. ``AttributeError`` is not one of the transport's connection errors, so no
   ``ignore_errors`` catches it: the worker logs "Unrecoverable error" and exits.

The same detached channel is used again when a task that was running during
the outage finishes and acknowledges its message, which fails the same way
(``self.connection`` is then ``None`` once the channel is closed).

This is the failure reported upstream in https://github.com/celery/kombu/issues/582
(same ``_connparams`` line, reached through a channel whose transport was
already detached), which recurs with every rework of the reconnect path. No
setting avoids it: ``broker_connection_retry`` only governs what happens after
the cleanup that raises.

The fix: a channel remembers the connection parameters it was built with, and
uses them when its transport has been detached. Restoring or acknowledging
then reaches Redis if it is back (the messages return to their queue, or the
ack lands) or fails with a ``ConnectionError``, which kombu and Celery already
treat as recoverable: the worker reconnects, and messages that could not be
restored come back after the visibility timeout.
"""

from __future__ import annotations

import logging
from typing import Any

import kombu
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

logger = logging.getLogger(__name__)

# Checked against these kombu versions' source; a newer kombu must be checked again
# (tests/e2e/test_broker_restart.py fails if it still has the bug).
AFFECTED_KOMBU = ((5, 0), (5, 8))
_REMEMBERED = "_mkto_connparams"

_applied = False


def kombu_version() -> tuple[int, int]:
    major, minor = kombu.__version__.split(".")[:2]
    return int(major), int(minor)


def needed(version: tuple[int, int] | None = None) -> bool:
    """Whether this kombu has the detached-transport bug (per the versions checked)."""
    low, high = AFFECTED_KOMBU
    return low <= (version or kombu_version()) < high


def apply() -> bool:
    """Install the fix once per process; returns whether it is installed."""
    global _applied
    if _applied:
        return True
    if not needed():
        logger.info("kombu %s: the broker-restart fix is not applied", kombu.__version__)
        return False
    channel: Any = kombu_redis.Channel
    original = channel._connparams

    def _connparams(self: Any, asynchronous: bool = False) -> dict[str, Any]:
        transport = self.connection
        if transport is None or transport.client is None:
            remembered = self.__dict__.get(_REMEMBERED, {}).get(asynchronous)
            if remembered is None:
                # Recoverable by every caller, unlike the AttributeError it replaces.
                raise RedisConnectionError("kombu channel detached from its broker connection")
            return dict(remembered)
        params: dict[str, Any] = original(self, asynchronous=asynchronous)
        self.__dict__.setdefault(_REMEMBERED, {})[asynchronous] = dict(params)
        return params

    channel._connparams = _connparams
    _applied = True
    return True
