"""How many replicas hold what this process wrote: Redis ``WAIT`` on the writing connection.

Redis replicates asynchronously: a primary that dies takes its last writes
with it, and Sentinel promotes a replica that never saw them. Before a step does
something outside Redis that must not happen twice (an import POST, whose permit
could otherwise be granted again on the promoted replica), it asks the primary
to confirm that replicas have everything written so far.

``WAIT`` counts the replicas that acknowledged the calling *connection's* last
write, and a connection that wrote nothing gets an immediate, meaningless
answer. So the mark is written and waited for in one pipeline, on one
connection: the replication stream is ordered, so a replica that has the mark
has every earlier write of every process too.
"""

from __future__ import annotations

import redis

from workers.state import keys as redis_keys


def acknowledged(client: redis.Redis, replicas: int, timeout_s: float) -> int:
    """Replicas (up to ``replicas``) that hold every write so far, waiting up to ``timeout_s``."""
    pipe = client.pipeline(transaction=False)
    pipe.incr(redis_keys.REPLICATION_MARK)
    pipe.wait(replicas, max(1, int(timeout_s * 1000)))
    _, count = pipe.execute()
    return int(count)
