"""Beat's scheduler: redbeat's, riding out a Redis restart instead of dying on it.

redbeat extends its lock and reads its schedule from Redis on every tick; when
Redis is briefly gone (a restart, a failover) that raises, celery beat stops,
and with it the reconciler sweep that finishes what a crash left behind. Here a
tick that cannot reach Redis is skipped and tried again shortly: the lock is
extended on the next tick that gets through (it outlives several ticks), and a
lock another beat took meanwhile still raises, so two beats never both run.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from redbeat import RedBeatScheduler

logger = logging.getLogger(__name__)

RETRY_S = 1.0  # how soon a tick that could not reach Redis is tried again


class ResilientRedBeatScheduler(RedBeatScheduler):
    """``redbeat.RedBeatScheduler`` whose tick survives Redis being unreachable for a while."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            return float(super().tick(*args, **kwargs))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            logger.warning("beat: Redis unreachable (%s); next tick in %.0f s", error, RETRY_S)
            return RETRY_S
