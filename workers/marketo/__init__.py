"""The Marketo client every task uses: auth, budgets, retries, bulk imports, describe, lookups.

Marketo's limits belong to the instance and are shared by every integration,
so the budgets live in Redis and hold across all worker processes and hosts.
"""

from __future__ import annotations

from workers.marketo.budgets import BudgetLimits, marketo_day, next_reset
from workers.marketo.client import MarketoClient
from workers.marketo.config import ClientConfig
from workers.marketo.describe import Description, FieldInfo
from workers.marketo.imports import ImportKind, ImportState, ImportStatus, ImportTarget
from workers.marketo.lookups import Channel, Program, StaticList
from workers.marketo.retry import RetryPolicy, backoff_delay
from workers.marketo.upload import Upload

__all__ = [
    "BudgetLimits",
    "Channel",
    "ClientConfig",
    "Description",
    "FieldInfo",
    "ImportKind",
    "ImportState",
    "ImportStatus",
    "ImportTarget",
    "MarketoClient",
    "Program",
    "RetryPolicy",
    "StaticList",
    "Upload",
    "backoff_delay",
    "marketo_day",
    "next_reset",
]
