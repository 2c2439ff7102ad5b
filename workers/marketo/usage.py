"""Marketo's own count of the day's calls: how much of the daily quota other integrations used.

The daily quota belongs to the instance, and our count (``Budgets``) sees only
our own calls. ``GET /rest/v1/stats/usage.json`` answers Marketo's count for the
day: a ``total`` and a count per API user. What the others used is the total
minus ours: our API user's count when ``MARKETO_API_USER`` names it, else the
calls we counted ourselves today. It is kept in Redis for the Marketo day
(``keys.marketo_usage``); when it is more than ``MARKETO_DAILY_QUOTA_RESERVE``,
the excess comes off our share (``budget_acquire.lua``), so that our calls and
theirs together stay within the quota.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis

from workers.state import keys as redis_keys
from workers.state.redis_text import text_hash

if TYPE_CHECKING:
    from workers.marketo.core import MarketoCore

USAGE_PATH = "/rest/v1/stats/usage.json"
USAGE_TTL_S = 3 * 24 * 3600


@dataclass(frozen=True)
class DailyUsage:
    """One reading of the usage report: calls today by everyone, by us, by the others."""

    total: int
    ours: int
    others: int
    read_at: float

    @classmethod
    def from_report(
        cls, result: list[Any], api_user: str | None, our_count: int, read_at: float
    ) -> DailyUsage:
        """``result`` as Marketo answers it: one ``UsageData`` (``date``, ``total``, ``users``)."""
        day = result[0] if result and isinstance(result[0], dict) else {}
        total = _count(day.get("total"))
        if api_user is None:
            ours = our_count
        else:
            users = day.get("users") or []
            ours = sum(
                _count(user.get("count"))
                for user in users
                if isinstance(user, dict)
                and str(user.get("userId", "")).lower() == api_user.lower()
            )
        return cls(total=total, ours=min(ours, total), others=max(0, total - ours), read_at=read_at)


def _count(value: Any) -> int:
    """A count as Marketo writes it (a number, or sometimes its text); 0 when missing."""
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def read_usage(core: MarketoCore, api_user: str | None) -> DailyUsage:
    """One call: Marketo's usage report for today, with what the others used."""
    result = core.request_json("GET", USAGE_PATH).result
    # Our count includes this very call, as Marketo's total does.
    return DailyUsage.from_report(result, api_user, core.daily_calls(), time.time())


def save(client: redis.Redis, instance: str, day: str, usage: DailyUsage) -> None:
    """Keep the reading for the Marketo day it was taken on; every worker's next call uses it."""
    key = redis_keys.marketo_usage(instance, day)
    pipe = client.pipeline(transaction=True)
    pipe.hset(
        key,
        mapping={
            "total": usage.total,
            "ours": usage.ours,
            "others": usage.others,
            "read_at": usage.read_at,
        },
    )
    pipe.expire(key, USAGE_TTL_S)
    pipe.execute()


def load(client: redis.Redis, instance: str, day: str) -> DailyUsage | None:
    """The day's last reading, or None if none was taken that day."""
    fields = text_hash(client.hgetall(redis_keys.marketo_usage(instance, day)))
    if not fields:
        return None
    return DailyUsage(
        total=int(fields.get("total") or 0),
        ours=int(fields.get("ours") or 0),
        others=int(fields.get("others") or 0),
        read_at=float(fields.get("read_at") or 0),
    )
