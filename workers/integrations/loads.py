"""What a scheduler does with a load, without the scheduler: start it, read it, judge its end.

- :func:`start` checks the payload here (a bad one fails the scheduler's task at once,
  naming the field, and nothing is sent), sends ``mkto_bulk.start_load`` by name
  and waits for a worker's answer, so that a retried task with an idempotency key
  gets back the load its first try started, and a payload the workers' own policy
  refuses fails the task with their message.
- :func:`read_status` and :func:`aread_status` read the load's record from the
  ledger (one MULTI/EXEC, as ``Ledger.snapshot``), the second with an asyncio
  Redis client for Airflow's trigger, which must not block the triggerer's loop.
- :func:`verdict` says whether a finished load passes the task.
- :func:`follow` waits for a load's end in the caller (a task that is not deferred),
  logging a progress line whenever it changes; :class:`Outage` lets a wait ride
  out a broker restart, for a while.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import redis

from workers.api import START_TASK
from workers.cli.load import progress_line
from workers.errors import InputError, LedgerError, LoadWaitTimeout, MktoBulkError, TransientError
from workers.load_request import parse_load_request
from workers.load_status import OK_STATES, ChunkTally, LoadStatus, summarize
from workers.queues import ENTRY_QUEUE
from workers.state import keys
from workers.state.ledger import Ledger, LoadState
from workers.state.records import parse_chunk, parse_load
from workers.state.redis_text import text, text_hash

if TYPE_CHECKING:
    import redis.asyncio
    from celery import Celery

logger = logging.getLogger(__name__)

# Errors of a broker that may come back (a restart, a failover); anything else ends the wait.
BROKER_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


class InfoLog(Protocol):
    """What :func:`follow` logs through: a module logger, Airflow's task log, Dagster's."""

    def info(self, msg: str, /, *args: Any) -> Any: ...


@dataclass(frozen=True)
class Started:
    load_id: str
    created: bool  # False: the idempotency key named an earlier load, and this is its id


def start(app: Celery, payload: dict[str, Any], *, timeout: float) -> Started:
    """Validate ``payload``, send the start by task name and wait for a worker's answer.

    :class:`InputError` for a payload refused here or by the workers (naming the
    field), :class:`LoadWaitTimeout` if no worker took the start in ``timeout``
    seconds (it stays queued: with an idempotency key a retry finds its load).
    """
    from celery.exceptions import TimeoutError as CeleryTimeout

    request = parse_load_request(payload)
    result = app.send_task(START_TASK, kwargs=request.to_json(), queue=ENTRY_QUEUE)
    try:
        answer = result.get(timeout=timeout, propagate=False)
    except CeleryTimeout:
        raise LoadWaitTimeout(
            f"no worker took the start of load {result.id} in {timeout:g} s; it stays queued "
            "(are the workers running on this broker?)"
        ) from None
    if result.failed():
        error = result.result
        if isinstance(error, InputError):
            raise InputError(str(error)) from None
        raise MktoBulkError(
            f"the start of load {result.id} failed in the worker: {type(error).__name__}: {error}"
        )
    if not isinstance(answer, dict) or "load_id" not in answer:
        raise MktoBulkError(f"the start of load {result.id} answered {answer!r}, not a load id")
    return Started(str(answer["load_id"]), bool(answer.get("created", True)))


def read_status(client: redis.Redis, load_id: str) -> LoadStatus | None:
    """The load as the ledger has it now; None if the ledger has no such load (yet)."""
    try:
        load, chunks = Ledger(client).snapshot(load_id)
    except LedgerError:
        return None
    return summarize(load, chunks)


async def aread_status(client: redis.asyncio.Redis, load_id: str) -> LoadStatus | None:
    """:func:`read_status` with an asyncio client (the trigger's): the same read, not blocking."""
    indexes = sorted(int(text(i)) for i in await client.smembers(keys.load_chunks(load_id)))
    async with client.pipeline(transaction=True) as pipe:
        pipe.hgetall(keys.load(load_id))
        for index in indexes:
            pipe.hgetall(keys.chunk(load_id, index))
        raw_load, *raw_chunks = await pipe.execute()
    if not raw_load:
        return None
    load = parse_load(load_id, text_hash(raw_load))
    return summarize(load, [parse_chunk(load_id, text_hash(raw)) for raw in raw_chunks])


def status_from_dict(data: dict[str, Any]) -> LoadStatus:
    """A :class:`LoadStatus` again from its ``as_dict()`` (a trigger's event, an XCom)."""
    fields = dict(data)
    fields["chunks"] = ChunkTally(**fields["chunks"])
    fields["chunk_errors"] = tuple((e["chunk"], e["message"]) for e in fields["chunk_errors"])
    return LoadStatus(**fields)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str
    retry_can_help: bool = True  # False: the same load would end the same way (rows refused)


def _rows(count: int, what: str) -> str:
    return f"{count:,} {'row' if count == 1 else 'rows'} {what}"


def verdict(status: LoadStatus, *, fail_on_row_errors: bool) -> Verdict:
    """Whether a finished load passes the Airflow task, and the line that says how it ended.

    ``succeeded`` passes; ``succeeded_with_row_errors`` passes unless
    ``fail_on_row_errors`` (records rejected before submission, rows Marketo
    refused, or jobs that failed: the report lists them); ``failed``,
    ``counts_mismatch`` and ``cancelled`` never pass.
    """
    name = f"load {status.load_id} {status.state}"
    done = _rows(status.rows_processed, "processed")
    if status.state == LoadState.SUCCEEDED:
        return Verdict(True, f"{name}: {done}")
    if status.state == LoadState.SUCCEEDED_WITH_ROW_ERRORS:
        problems = [
            _rows(status.rows_failed, "refused by Marketo"),
            _rows(status.rows_rejected, "rejected before submission"),
        ]
        if status.rows_in_failed_jobs:
            problems.append(_rows(status.rows_in_failed_jobs, "in import jobs that failed"))
        where = (
            f" (failure files and report under {status.staging_uri})" if status.staging_uri else ""
        )
        line = f"{name}: {done}, {', '.join(problems)}{where}"
        if fail_on_row_errors:
            return Verdict(False, f"{line}; fail_on_row_errors is set", retry_can_help=False)
        return Verdict(True, line)
    assert status.state not in OK_STATES
    if status.state == LoadState.CANCELLED:  # the same load stays cancelled: resume it instead
        sent = _rows(status.rows_submitted, "sent")
        line = f"{name}: {sent}, {_rows(status.rows_cancelled, 'not sent')} (mkto-bulk resume)"
        return Verdict(False, line, retry_can_help=False)
    return Verdict(False, f"{name}: {status.error or 'no error recorded'}")


class Outage:
    """How long the broker has been unreachable during one wait; past ``limit`` seconds the
    wait ends with :class:`TransientError` (a task retry, or the next poke, may try again)."""

    def __init__(self, limit: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._since: float | None = None

    def reached(self) -> None:
        self._since = None

    def unreachable(self, load_id: str, error: Exception, where: str) -> None:
        now = self._clock()
        if self._since is None:
            self._since = now
        down = now - self._since
        if down >= self.limit:
            raise TransientError(
                f"the broker ({where}) has been unreachable for {down:.0f} s while following "
                f"load {load_id}: {type(error).__name__}: {error}; the load itself goes on"
            ) from None
        logger.warning(
            "load_id=%s broker=%s unreachable for %.0f s (gives up after %.0f s): %s",
            load_id, where, down, self.limit, error,
        )  # fmt: skip


def follow(
    client: redis.Redis,
    load_id: str,
    *,
    where: str,
    poll_interval: float,
    timeout: float | None,
    broker_outage: float,
    log: InfoLog = logger,
) -> LoadStatus:
    """Read the load every ``poll_interval`` seconds until it is final, and return it.

    :class:`LoadWaitTimeout` after ``timeout`` seconds (the load goes on), and
    :class:`TransientError` once the broker (``where``, as logs show it) has been
    unreachable for ``broker_outage`` seconds; :class:`MktoBulkError` if the
    record cannot be read.
    """
    began = time.monotonic()
    outage = Outage(broker_outage)
    last = ""
    while True:
        try:
            status = read_status(client, load_id)
            outage.reached()
        except BROKER_DOWN as error:
            outage.unreachable(load_id, error, where)
            status = None
        except redis.RedisError as error:
            raise MktoBulkError(f"cannot read load {load_id} ({where}): {error}") from None
        if status is not None and status.terminal:
            return status
        waited = time.monotonic() - began
        line = progress_line(status, waited)
        if line.split(" ", 1)[1:] != last.split(" ", 1)[1:]:  # the clock aside, it changed
            log.info("load_id=%s %s", load_id, line)
            last = line
        if timeout is not None and waited >= timeout:
            raise LoadWaitTimeout(
                f"load {load_id} is not finished after {timeout:g} s; it goes on "
                f"(state: {status.state if status else 'unknown'})"
            )
        time.sleep(poll_interval)
