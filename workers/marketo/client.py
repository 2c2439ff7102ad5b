"""``MarketoClient``: the one way tasks talk to Marketo (bulk imports, status, files, describe)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis

from workers.marketo.bulk import BulkImports
from workers.marketo.config import ClientConfig
from workers.marketo.describe import Describes
from workers.marketo.lookups import Lookups

if TYPE_CHECKING:
    from workers.settings import Settings


class MarketoClient(BulkImports, Describes, Lookups):
    """Bulk imports, job status, result files, describe and lookups, within the shared budgets.

    Build one per worker process (after the fork), e.g. on ``worker_process_init``:
    ``MarketoClient.from_settings(get_settings())``.
    """

    @classmethod
    def from_settings(
        cls, settings: Settings, redis_client: redis.Redis | None = None
    ) -> MarketoClient:
        """The worker's client; create it in each worker process (never before a fork)."""
        from workers.redis_clients import redis_client as make_redis_client

        client = redis_client or make_redis_client(settings)
        return cls(ClientConfig.from_settings(settings), client)

    def __repr__(self) -> str:
        return (
            f"MarketoClient(instance={self.config.instance!r}, client_id={self.config.client_id!r})"
        )
