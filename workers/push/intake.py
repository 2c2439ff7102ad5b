"""Taking a push: check it, queue the good records, and make sure the queue will flush.

The envelope is checked first (a bad one refuses the whole push); then each
record against the object's describe (cached in Redis), and the good ones are
appended to their queue in one step. The answer names every refused record
with its index, field and reason; refused records are never queued, the
others always are. When the append moves the queue's flush time earlier (its
first record, or a full request), a flush is scheduled for that time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from workers.marketo.ingestion import MAX_BODY_BYTES, MAX_OBJECTS
from workers.pipeline.runtime import Runtime
from workers.push import api_choice
from workers.push.flush import FlushScheduler
from workers.push.queue import PushQueue
from workers.push.records import Refused, check_records
from workers.push.request import PushRequest, parse_push

logger = logging.getLogger(__name__)

BULK_OBJECTS = 10**9  # a bulk file has no record limit: only its bytes fill it


@dataclass(frozen=True)
class PushAnswer:
    """The task's answer: the queue, how many records were queued, and the refused ones."""

    queue: str
    accepted: int
    refused: list[Refused] = field(default_factory=list)
    depth: int = 0
    api: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "accepted": self.accepted,
            "refused": [r.as_dict() for r in self.refused],
            "depth": self.depth,
            "api": self.api,
        }


def _room(request: PushRequest) -> int:
    """The most bytes one record may take: what a Data Ingestion request leaves for it."""
    spec = request.spec
    shape = spec.ingestion_shape(spec.import_target(request.load))
    if shape is None:
        return MAX_BODY_BYTES
    before, after = shape.wrap()
    return MAX_BODY_BYTES - len(before) - len(after)


def push(
    rt: Runtime, scheduler: FlushScheduler, payload: dict[str, Any], now: float | None = None
) -> dict[str, Any]:
    """``mkto_bulk.push_records``: validate, queue, schedule; returns :class:`PushAnswer`'s dict."""
    settings = rt.settings
    request = parse_push(payload, default_max_age_s=settings.push_max_age_s)
    api_choice.check_asked(settings, rt.redis, request.api)
    api = api_choice.choose(settings, rt.redis, request.api)
    spec = request.spec
    description = spec.describe(rt.marketo, spec.import_target(request.load))
    accepted, refused = check_records(
        request.records, spec=spec, description=description, api=api, max_bytes=_room(request)
    )
    queue = PushQueue(rt.redis, settings.instance, request.queue_id)
    depth = 0
    if accepted:
        now = time.time() if now is None else now
        if api == api_choice.INGESTION:
            full_objects, full_bytes = MAX_OBJECTS, MAX_BODY_BYTES
        else:
            full_objects, full_bytes = BULK_OBJECTS, settings.chunk_byte_limit
        appended = queue.append(
            accepted,
            identity=request.identity(),
            now=now,
            deadline=now + request.max_age_s,
            full_objects=full_objects,
            full_bytes=full_bytes,
        )
        depth = appended.depth
        if appended.moved and appended.flush_at is not None:
            scheduler.flush(queue.id, countdown=max(0.0, appended.flush_at - now))
    if refused:
        queue.count_refused(len(refused))
        # Where, not why: a reason may quote a value, and values stay out of the logs.
        first = refused[0]
        logger.info("push to queue %s: %d records refused, the first records[%d] (field %s)",
                    queue.id, len(refused), first.index, first.field or "-")  # fmt: skip
    return PushAnswer(queue.id, len(accepted), refused, depth, api).as_dict()
