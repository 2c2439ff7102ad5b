"""Counters of Marketo calls, retries and error codes, shared by all workers in Redis.

A Redis hash per instance, so the operations report and the CLI can read one
number for the whole fleet; nothing here is ever on a failure path (a counter
that cannot be written is logged and skipped).
"""

from __future__ import annotations

import logging

import redis

from workers.state import keys as redis_keys
from workers.state.redis_text import text

logger = logging.getLogger(__name__)

CALLS = "calls"
ATTEMPTS = "attempts"
RETRIES = "retries"
FAILURES = "failures"
TOKEN_REFRESHES = "token_refreshes"
TOKENS_FETCHED = "tokens_fetched"
HOLDOFFS = "holdoffs_606"
POSSIBLE_DOUBLE_SUBMITS = "possible_double_submits"
LEASE_OVERRUNS = "lease_overruns"
DESCRIBE_CACHE_HITS = "describe_cache_hits"
LOOKUP_CACHE_HITS = "lookup_cache_hits"
CODE_PREFIX = "code:"
COUNTERS = (
    CALLS, ATTEMPTS, RETRIES, FAILURES, TOKEN_REFRESHES, TOKENS_FETCHED, HOLDOFFS,
    POSSIBLE_DOUBLE_SUBMITS, LEASE_OVERRUNS, DESCRIBE_CACHE_HITS, LOOKUP_CACHE_HITS,
)  # fmt: skip


class Metrics:
    """Increment-only counters; ``snapshot()`` returns them all."""

    def __init__(self, redis_client: redis.Redis, instance: str) -> None:
        self.redis = redis_client
        self.key = redis_keys.client_metrics(instance)

    def incr(self, name: str, amount: int = 1) -> None:
        self.add({name: amount})

    def add(self, counts: dict[str, int]) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            for name, amount in counts.items():
                if amount:
                    pipe.hincrby(self.key, name, amount)
            pipe.execute()
        except redis.RedisError as error:
            logger.warning("marketo metrics not recorded: %s", type(error).__name__)

    def code(self, code: str) -> None:
        """Count one error answer by its Marketo code (or HTTP/transport code)."""
        self.incr(CODE_PREFIX + code)

    def snapshot(self) -> dict[str, int]:
        """Every counter (0 when never incremented) and one ``code:<code>`` per code seen."""
        raw = self.redis.hgetall(self.key)
        return {**dict.fromkeys(COUNTERS, 0), **{text(k): int(v) for k, v in raw.items()}}

    def codes(self) -> dict[str, int]:
        """Error answers by code, e.g. ``{"606": 3, "timeout": 1}``."""
        return {
            name[len(CODE_PREFIX) :]: value
            for name, value in self.snapshot().items()
            if name.startswith(CODE_PREFIX)
        }
