"""The producer's Python entry point: push records, get back which were refused.

Like ``workers.api.start_load``, it only sends the task by name on the broker
(``mkto_bulk.push_records``), so a producer needs Redis but neither Marketo's
credentials nor the tasks. The envelope is checked here first, so a bad push
raises :class:`InputError` at once; each record is checked by a worker
against Marketo's describe, and the answer lists the refused ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workers.errors import InputError, LoadWaitTimeout, MktoBulkError, TransientError
from workers.push.request import parse_push
from workers.queues import ENTRY_QUEUE

if TYPE_CHECKING:
    from celery import Celery

PUSH_TASK = "mkto_bulk.push_records"
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class PushResult:
    """The worker's answer: the queue, records queued, and each refused one's message."""

    queue: str
    accepted: int
    refused: list[dict[str, Any]] = field(default_factory=list)  # {"index", "field", "message"}
    depth: int = 0  # records waiting in the queue after this push
    api: str = ""  # the API the queue's records go through, as chosen at this push


def push_records(
    payload: dict[str, Any],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    app: Celery | None = None,
    redis_url: str | None = None,
) -> PushResult:
    """Send ``{"object", <parameters>, "records": [...]}`` to a worker; return its answer.

    A bad envelope (unknown object, bad parameters, too many records) raises
    :class:`InputError` before anything is sent; so does one the worker
    refuses as a whole. A refused record does not raise: it is in ``refused``.
    """
    from celery.exceptions import TimeoutError as CeleryTimeout
    from kombu.exceptions import OperationalError
    from redis import RedisError

    from workers.api import _client_app, _redis
    from workers.settings import load_settings

    parse_push(payload)
    url = redis_url or load_settings().redis_url
    try:
        _redis(url).ping()
        producer = app if app is not None else _client_app(url)
        result = producer.send_task(
            PUSH_TASK, kwargs=payload, queue=ENTRY_QUEUE, kwargsrepr=_summary(payload)
        )
    except (OperationalError, RedisError) as error:
        raise TransientError(f"cannot reach the broker (REDIS_URL): {error}") from None
    try:
        answer = result.get(timeout=timeout, propagate=False)
    except CeleryTimeout:
        raise LoadWaitTimeout(
            f"no worker answered push {result.id} within {timeout:g} s; it stays queued"
        ) from None
    if result.failed():
        if isinstance(result.result, InputError):
            raise InputError(str(result.result)) from None
        raise MktoBulkError(
            f"push {result.id} failed in the worker: "
            f"{type(result.result).__name__}: {result.result}"
        )
    return PushResult(
        queue=str(answer["queue"]),
        accepted=int(answer["accepted"]),
        refused=list(answer["refused"]),
        depth=int(answer.get("depth", 0)),
        api=str(answer.get("api", "")),
    )


def _summary(payload: dict[str, Any]) -> str:
    """What Flower shows of the push: the envelope, not the records (they may be personal)."""
    shown = {k: v for k, v in payload.items() if k != "records"}
    return f"{shown!r} with {len(payload.get('records') or []):,} records"
