"""No POST before a replica holds its permit, when Redis fails over (Sentinel) or is told to.

A permit granted on the primary lives only there until the primary's
replicas have it. If the primary dies in between, the promoted replica has
the chunk back in line and a free slot, and grants it to another chunk while
Marketo runs the job we posted: one more job than the limit. So a submit
records ``post_started_at``, has the replicas confirm everything written so far
(``Settings.replica_acks_before_post``, Redis ``WAIT``) and only then POSTs.
Without that confirmation nothing is sent: the chunk keeps its permit and the
submit tries again shortly, so a lagging or paused replica delays loads but
never lets a permit be granted twice.
"""

from __future__ import annotations

import logging

from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.outcomes import StepOutcome
from workers.pipeline.runtime import Runtime
from workers.state import replication
from workers.state.ledger import ChunkState

logger = logging.getLogger(__name__)

RETRY_S = 2.0  # how soon a submit that no replica confirmed tries again


def confirmed(rt: Runtime) -> bool:
    """Whether enough replicas hold every write so far (always, when none are asked for)."""
    wanted = rt.settings.replica_acks_before_post
    if wanted == 0:
        return True
    got = replication.acknowledged(rt.redis, wanted, rt.settings.redis_replica_ack_timeout_s)
    return got >= wanted


def wait_for_replicas(rt: Runtime, dispatch: Dispatcher, load_id: str, index: int) -> StepOutcome:
    """Nothing was sent: undo the POST's marks, keep the permit, and submit again shortly."""
    moved = rt.ledger.move_chunk(
        load_id, index, [ChunkState.SUBMITTING], ChunkState.SUBMITTING, {"post_started_at": ""}
    )
    if moved.applied:
        rt.ledger.count_submission(load_id, index, -1)  # counted before the wait, never sent
    logger.warning(
        "submit waits for Redis replicas load_id=%s chunk=%s wanted=%d timeout_s=%g",
        load_id, index, rt.settings.replica_acks_before_post,
        rt.settings.redis_replica_ack_timeout_s,
    )  # fmt: skip
    dispatch.submit(load_id, index, countdown=RETRY_S)
    return StepOutcome.AWAITING_REPLICA
