"""One load at a time per sync key: a second one is refused, naming the load that runs it.

The lock (``keys.sync_lock``) holds the running load's id; its finish releases it,
owner-checked, and it expires after ``SYNC_LOCK_TTL_S`` should that load never end.
"""

from __future__ import annotations

import redis

from workers import defaults
from workers.errors import SyncKeyBusy
from workers.state import keys
from workers.state.lease import Lease


def _lease(client: redis.Redis, instance: str, object_name: str, key: str, load_id: str) -> Lease:
    lease = Lease(client, keys.sync_lock(instance, object_name, key), defaults.SYNC_LOCK_TTL_S)
    lease.owner = load_id
    return lease


def claim(client: redis.Redis, instance: str, object_name: str, key: str, load_id: str) -> None:
    """Take the sync key for ``load_id`` (again, harmlessly, if it holds it already)."""
    lease = _lease(client, instance, object_name, key, load_id)
    if lease.acquire() or lease.held():
        return
    holder = client.get(lease.key)
    if isinstance(holder, bytes):
        holder = holder.decode()
    raise SyncKeyBusy(
        f"syncKey {key!r}: load {holder} of the same sync key ({object_name} on {instance}) "
        "has not ended; start this one when it has (mkto-bulk status shows it)"
    )


def release(client: redis.Redis, instance: str, object_name: str, key: str, load_id: str) -> bool:
    """Free the sync key if ``load_id`` holds it; False when it does not."""
    return _lease(client, instance, object_name, key, load_id).release()
