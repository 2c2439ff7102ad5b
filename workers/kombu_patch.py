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

A third way a worker exits is a broker that is there but refuses writes (a
primary under ``min-replicas-to-write`` whose replicas are gone): redis-py's
``NOREPLICAS`` answer is made a connection error (``_refusal_is_an_outage``), and
an ack it refuses still frees the worker's prefetch slot (``_ack_frees_its_slot``).

The fix: a channel remembers the connection parameters it was built with, and
uses them when its transport has been detached. A Sentinel channel (REDIS_URL
``sentinel://...``) also reads the sentinels' addresses from the detached
transport (``self.connection.client.alt``) when it builds a pool, and fails the
same way after a failover, so it remembers those too. Restoring or acknowledging
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
_REMEMBERED_SENTINELS = "_mkto_sentinels"

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
    _refusal_is_an_outage()
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
    _remember_sentinels(kombu_redis.SentinelChannel)
    _ack_frees_its_slot(kombu_redis.QoS)
    _applied = True
    return True


def _ack_frees_its_slot(qos: Any) -> None:
    """An ack Redis did not take still frees the message's prefetch slot in the worker.

    kombu frees the slot only after Redis took the ack, so a worker whose acks
    failed as often as it prefetches (a primary refusing writes under a BRPOP
    that was already waiting, so the consumer never reconnects) fetches nothing
    ever again. Redis still lists the message as unacknowledged; it comes back
    after the visibility timeout, and a step done twice does nothing the second time.
    """
    from kombu.transport import virtual

    original = qos.ack

    def ack(self: Any, delivery_tag: Any) -> None:
        try:
            original(self, delivery_tag)
        except Exception:
            virtual.QoS.ack(self, delivery_tag)
            raise

    qos.ack = ack


class NoReplicasError(RedisConnectionError):
    """Redis refused a write: its ``min-replicas-to-write`` replicas are not there (NOREPLICAS)."""


def _refusal_is_an_outage() -> None:
    """redis-py raises NOREPLICAS as a connection error, in every client of the process.

    Every write, a worker's BRPOP and kombu's restore lock included, is refused
    while a primary under ``min-replicas-to-write`` lacks its replicas (for a
    moment after each failover, until the other replicas follow the new
    primary). As a plain ``ResponseError`` that makes the worker exit
    ("Unrecoverable error: server:ResponseError"); as a connection error kombu
    reconnects, Celery's result backend and redbeat retry, and a step waits it
    out like any Redis outage.
    """
    from redis._parsers.base import BaseParser

    BaseParser.EXCEPTION_CLASSES.setdefault("NOREPLICAS", NoReplicasError)


def _remember_sentinels(channel: Any) -> None:
    """A Sentinel channel builds its pool from remembered sentinels once detached."""
    original = channel._sentinel_managed_pool

    def _sentinel_managed_pool(self: Any, asynchronous: bool = False) -> Any:
        transport = self.connection
        if transport is not None and transport.client is not None:
            self.__dict__[_REMEMBERED_SENTINELS] = (
                list(transport.client.alt),
                transport.default_port,
            )
            return original(self, asynchronous)
        remembered = self.__dict__.get(_REMEMBERED_SENTINELS)
        if remembered is None:
            raise RedisConnectionError("kombu channel detached from its broker connection")
        return _detached_sentinel_pool(self, asynchronous, *remembered)

    channel._sentinel_managed_pool = _sentinel_managed_pool


def _detached_sentinel_pool(
    channel: Any, asynchronous: bool, addresses: list[str], default_port: int
) -> Any:
    """kombu's ``SentinelChannel._sentinel_managed_pool``, from remembered sentinel addresses."""
    from kombu.utils.url import _parse_url
    from redis import Redis
    from redis.sentinel import Sentinel

    params = dict(channel._connparams(asynchronous))
    host, port = params.pop("host", None), params.pop("port", None)
    sentinels = []
    for address in addresses:
        url = _parse_url(address)
        if url.scheme == "sentinel":
            sentinels.append((url.hostname, url.port or default_port))
    manager = Sentinel(
        sentinels or [(host, port)],
        min_other_sentinels=getattr(channel, "min_other_sentinels", 0),
        sentinel_kwargs=getattr(channel, "sentinel_kwargs", None),
        **params,
    )
    if asynchronous:
        channel._async_sentinel_manager = manager
    else:
        channel._sentinel_manager = manager
    master_name = getattr(channel, "master_name", None)
    if master_name is None:
        raise ValueError("'master_name' transport option must be specified.")
    login = {key: params[key] for key in ("username", "password") if key in params}
    return manager.master_for(master_name, Redis, **login).connection_pool
