"""A lease: a Redis key one owner holds until it releases it or the key expires.

Taking it is ``SET NX PX`` with a random owner token; renewing and releasing
are Lua scripts that first check the token, in one step, so an owner whose
lease ran out and was taken over can never extend or delete the new owner's.
The split lease, the submit lock and the token-refresh lock are all this.
"""

from __future__ import annotations

import uuid

import redis

from workers.state import scripts


class Lease:
    """One owner of ``key`` at a time, for ``ttl_s`` unless renewed."""

    def __init__(self, client: redis.Redis, key: str, ttl_s: float) -> None:
        self._redis = client
        self.key = key
        self.owner = uuid.uuid4().hex
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._renew = scripts.register(client, "workers.state", "lease_renew")
        self._release = scripts.register(client, "workers.state", "lease_release")

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; False if another owner does."""
        return bool(self._redis.set(self.key, self.owner, nx=True, px=self._ttl_ms))

    def renew(self) -> bool:
        """Give our lease a full lifetime again; False if it is no longer ours."""
        return bool(self._renew(keys=[self.key], args=[self.owner, self._ttl_ms]))

    def release(self) -> bool:
        """Delete the lease if it is still ours; False (nothing done) if not."""
        return bool(self._release(keys=[self.key], args=[self.owner]))

    def held(self) -> bool:
        """Whether the lease is ours right now."""
        value = self._redis.get(self.key)
        if isinstance(value, bytes):
            value = value.decode()
        return value == self.owner
