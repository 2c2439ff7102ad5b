"""The Python entry point: start a load, read how it is doing, list recent loads, retry,
cancel and resume one.

Starting a load only enqueues ``mkto_bulk.start_load`` on the broker, exactly
as an ETL's ``send_task`` does, so the caller needs Redis but neither the
Marketo credentials nor this package's tasks. The payload is validated here
first, so a bad one raises :class:`InputError` in the caller at once instead
of failing later in a worker. Status is read from the load ledger in Redis.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import redis

from workers.errors import (
    DamagedLedgerRecord,
    InputError,
    LoadControlRefused,
    LoadNotFound,
    LoadWaitTimeout,
    MktoBulkError,
    TransientError,
)
from workers.load_request import RequestPolicy, parse_load_request
from workers.load_status import LoadStatus, summarize
from workers.push.client import push_records as push_records  # pushed records (workers/push/)
from workers.queues import ENTRY_QUEUE
from workers.redis_clients import celery_redis_conf, redis_client
from workers.settings import load_settings
from workers.state.control import ControlAnswer, LoadControl, Outcome
from workers.state.ledger import (
    Ledger,
    LedgerError,
)

if TYPE_CHECKING:
    from celery import Celery
    from celery.result import AsyncResult

logger = logging.getLogger(__name__)

START_TASK = "mkto_bulk.start_load"
RETRY_TASK = "mkto_bulk.retry_load"
RETRY_TIMEOUT_S = 300  # a retry's source is written before the answer: chunk files are read


@lru_cache(maxsize=4)
def _redis(redis_url: str) -> redis.Redis:
    return redis_client(load_settings(), url=redis_url, health_check_interval=30)


def _ledger(redis_url: str | None = None) -> Ledger:
    return Ledger(_redis(redis_url or load_settings().redis_url))


@lru_cache(maxsize=4)
def _client_app(redis_url: str) -> Celery:
    """A producer-only Celery app: knows the broker and the task names, not the tasks."""
    from celery import Celery

    conf = celery_redis_conf(load_settings(), {}, url=redis_url)
    client = Celery("mkto_bulk_client", broker=conf["broker_url"], backend=conf["result_backend"])
    client.conf.update(
        broker_transport_options=conf["broker_transport_options"],
        result_backend_transport_options=conf["result_backend_transport_options"],
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
    )
    return client


def load_status(load_id: str, *, redis_url: str | None = None) -> LoadStatus:
    """The load's state, counts and outputs; :class:`LoadNotFound` if the ledger has none,
    :class:`DamagedLedgerRecord` naming the fields if its record cannot be read."""
    ledger = _ledger(redis_url)
    try:
        load = ledger.load(load_id)
        chunks = ledger.chunks(load_id)
    except LedgerError:
        raise LoadNotFound(
            f"no load {load_id!r} (a load just started appears once a worker takes it)"
        ) from None
    except redis.RedisError as error:
        raise TransientError(f"cannot read the load ledger (REDIS_URL): {error}") from None
    return summarize(load, chunks)


def recent_loads(limit: int = 20, *, redis_url: str | None = None) -> list[LoadStatus]:
    """The most recently created loads, newest first.

    A load whose record cannot be read is left out of the list (``load_status`` of
    its id names the damaged fields), so one bad record does not hide the others.
    """
    ledger = _ledger(redis_url)
    statuses = []
    try:
        for load_id in ledger.recent_loads(limit):
            try:
                statuses.append(summarize(ledger.load(load_id), ledger.chunks(load_id)))
            except LedgerError:
                continue  # indexed but its record was removed
            except DamagedLedgerRecord as error:
                logger.warning("load_id=%s left out: %s", load_id, error)
    except redis.RedisError as error:
        raise TransientError(f"cannot read the load ledger (REDIS_URL): {error}") from None
    return statuses


ProgressCallback = Callable[["LoadStatus | None"], None]


def wait_for_load(
    load_id: str,
    *,
    timeout: float | None = None,
    interval: float = 1.0,
    on_progress: ProgressCallback | None = None,
    start_result: AsyncResult | None = None,
    redis_url: str | None = None,
) -> LoadStatus:
    """Block until the load is terminal and return its final status.

    ``on_progress`` is called on every check with the current status (None
    while no worker has taken the load yet). :class:`LoadWaitTimeout` after
    ``timeout`` seconds; the load itself goes on. :class:`LoadNotFound` at once
    for an id that neither the ledger, the broker nor the result backend knows.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    url = redis_url or load_settings().redis_url
    # Sent by start_load: known to exist. Otherwise the id must be in the ledger, or its
    # start must be known to the broker or the result backend.
    known = start_result is not None
    unseen = 0
    while True:
        try:
            status: LoadStatus | None = load_status(load_id, redis_url=url)
        except LoadNotFound:
            status = None
            if start_result is None:
                # Without an idempotency key the load id is its start task's id.
                start_result = _client_app(url).AsyncResult(load_id)
            if not known and start_result.state == "PENDING" and not _start_queued(url, load_id):
                unseen += 1
                if unseen >= 2:  # twice: the start may move from the queue to the ledger
                    raise LoadNotFound(f"no such load {load_id}") from None
                time.sleep(min(interval, 0.2))
                continue
            known = True
            if start_result.failed():
                raise MktoBulkError(
                    f"the start of load {load_id} failed in the worker: "
                    f"{type(start_result.result).__name__}: {start_result.result}"
                ) from None
        if on_progress is not None:
            on_progress(status)
        if status is not None and status.terminal:
            return status
        if deadline is not None and time.monotonic() >= deadline:
            raise LoadWaitTimeout(
                f"load {load_id} is not finished after {timeout:g} s; it goes on "
                f"(state: {status.state if status else 'not started by a worker yet'})"
            )
        time.sleep(interval)


def _start_queued(redis_url: str, load_id: str) -> bool:
    """Whether a start message with this id waits in the entry queue or is held by a worker."""
    client = _redis(redis_url)
    needle = load_id.encode()
    try:
        waiting = client.lrange(ENTRY_QUEUE, 0, -1)
        held = client.hvals("unacked")  # kombu's Redis transport: delivered, not yet acked
    except redis.RedisError as error:
        raise TransientError(f"cannot read the broker (REDIS_URL): {error}") from None
    return any(needle in message for message in [*waiting, *held])


def start_load(
    payload: dict[str, Any],
    *,
    wait: bool = False,
    timeout: float | None = None,
    on_progress: ProgressCallback | None = None,
    app: Celery | None = None,
    redis_url: str | None = None,
) -> str:
    """Validate ``payload`` and enqueue ``mkto_bulk.start_load``; return the load id.

    A bad payload raises :class:`InputError` naming the field, before anything
    is sent. Without an ``idempotencyKey`` the load id is known at once (it is
    the start task's id) and nothing waits. With one, the key may already name
    an earlier load, so this waits (up to ``timeout``, default 60 s) for a
    worker to take the start and returns the id it answers.

    ``wait=True`` blocks until the load is terminal (see :func:`wait_for_load`);
    read the outcome with :func:`load_status`. ``timeout`` bounds the whole
    call. ``REDIS_URL`` (or ``redis_url``) must name the broker the workers use.
    """
    from kombu.exceptions import OperationalError

    settings = load_settings()
    request = parse_load_request(payload, RequestPolicy.from_settings(settings))
    url = redis_url or settings.redis_url
    deadline = None if timeout is None else time.monotonic() + timeout

    try:
        # Fail fast and plainly: Celery's own retries take long and end in a traceback.
        _redis(url).ping()
        producer = app if app is not None else _client_app(url)
        result = producer.send_task(START_TASK, kwargs=request.to_json(), queue=ENTRY_QUEUE)
    except (OperationalError, redis.RedisError) as error:
        raise TransientError(f"cannot reach the broker (REDIS_URL): {error}") from None
    load_id = str(result.id)
    if request.idempotency_key:
        load_id = _answered_load_id(
            result,
            60 if timeout is None else timeout,
            f"no worker took the start of load {load_id} (idempotency key "
            f"{request.idempotency_key!r}) in time; it stays queued",
            f"the start of load {load_id}",
        )
    if wait:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        wait_for_load(
            load_id, timeout=left, on_progress=on_progress, start_result=result, redis_url=url
        )
    return load_id


def _answered_load_id(
    result: Any, timeout: float, late: str, what: str, *, not_found: str | None = None
) -> str:
    """The load id a worker answered a start (or a retry) with, its refusal as our error.

    ``late``: the message when no worker answered within ``timeout``; ``not_found``: when
    the worker found no such load (a retry of an unknown id).
    """
    from celery.exceptions import TimeoutError as CeleryTimeout

    try:
        answer = result.get(timeout=timeout, propagate=False)
    except CeleryTimeout:
        raise LoadWaitTimeout(late) from None
    if not_found is not None and result.failed() and isinstance(result.result, LedgerError):
        raise LoadNotFound(not_found) from None
    if result.failed() and isinstance(result.result, InputError):
        # The worker refused it (its policy, the key used with another payload, a bad retry).
        raise InputError(str(result.result)) from None
    if result.failed() or not isinstance(answer, dict) or "load_id" not in answer:
        raise MktoBulkError(
            f"{what} failed in the worker: {type(result.result).__name__}: {result.result}"
        )
    return str(answer["load_id"])


def retry_load(
    load_id: str,
    *,
    wait: bool = False,
    timeout: float | None = None,
    on_progress: ProgressCallback | None = None,
    redis_url: str | None = None,
) -> str:
    """Start a load of exactly the rows of ``load_id`` that failed or were not sent.

    A worker (``mkto_bulk.retry_load``) writes those rows' records, taken from the
    load's chunk files, as a new source under the load's staging prefix and starts a
    load of it with the same parameters; this returns the new load's id once it has
    (waiting up to ``timeout``, default 300 s). Retrying a load again returns the same
    retry. :class:`LoadNotFound` for an unknown id; :class:`InputError` when the load
    has not ended, has no results file, or no row to retry. ``wait=True`` then follows
    the retry until it ends.
    """
    from kombu.exceptions import OperationalError

    url = redis_url or load_settings().redis_url
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        _redis(url).ping()
        result = _client_app(url).send_task(RETRY_TASK, args=(load_id,))
    except (OperationalError, redis.RedisError) as error:
        raise TransientError(f"cannot reach the broker (REDIS_URL): {error}") from None
    retry_id = _answered_load_id(
        result,
        RETRY_TIMEOUT_S if timeout is None else timeout,
        f"no worker started the retry of load {load_id} in time",
        f"the retry of load {load_id}",
        not_found=f"no load {load_id!r}",
    )
    if wait:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        wait_for_load(retry_id, timeout=left, on_progress=on_progress, redis_url=url)
    return retry_id


def cancel_load(load_id: str, *, redis_url: str | None = None) -> ControlAnswer:
    """Cancel a load: from now on nothing more of it is sent; its jobs already in Marketo
    finish and are collected, and it ends ``cancelled`` with a report of what was sent.

    Takes effect at once (a step in Redis); a worker then takes its waiting chunks out
    of line (``mkto_bulk.cancel_load``; the reconciler would too). A second cancel says
    so and changes nothing. :class:`LoadControlRefused` for a load that already ended.
    """
    return _control(load_id, redis_url, "mkto_bulk.cancel_load", LoadControl.request_cancel)


def resume_load(load_id: str, *, redis_url: str | None = None) -> ControlAnswer:
    """Resume a cancelled or failed load: its unsent and failed chunks go back in line, it
    is ``loading`` again and ends with a new report; chunks done are not sent again.

    A load still running is left alone (the answer says so). :class:`LoadControlRefused`
    for a load that succeeded, did not add up, or whose source failed.
    """
    return _control(load_id, redis_url, "mkto_bulk.resume_load", LoadControl.request_resume)


def _control(
    load_id: str,
    redis_url: str | None,
    task: str,
    request: Callable[[LoadControl, str], ControlAnswer],
) -> ControlAnswer:
    from kombu.exceptions import OperationalError

    url = redis_url or load_settings().redis_url
    try:
        answer = request(LoadControl(_redis(url)), load_id)
        if answer.outcome in (Outcome.CANCELLING, Outcome.RESUMED):
            _client_app(url).send_task(task, kwargs={"load_id": load_id}, queue=ENTRY_QUEUE)
    except LedgerError:
        raise LoadNotFound(f"no load {load_id!r}") from None
    except (OperationalError, redis.RedisError) as error:
        raise TransientError(f"cannot reach Redis (REDIS_URL): {error}") from None
    if answer.refused:
        raise LoadControlRefused(answer.message)
    return answer
