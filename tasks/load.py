"""The load's steps as Celery tasks: thin glue over ``workers``; arguments are ids, never data.

Transient failures (Marketo budgets, S3 hiccups, the daily quota) retry with a
short countdown; everything a step leaves half-done is found again by the
reconciler, so a lost message delays a load but never loses it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import redis
from celery import Task
from celery.exceptions import Reject, TaskPredicate
from celery.signals import beat_init

import beat_schedule
from workers.celery_app import MAX_COUNTDOWN_S, SCHEDULED_LOADS, app
from workers.errors import (
    DailyQuotaExhausted,
    PermanentError,
    TransientError,
    UnexpectedStepError,
)
from workers.load_request import callback_problems
from workers.pipeline import collect, control, finish, poll, retry, split, start, submit
from workers.pipeline import marketo_usage as marketo_usage_step
from workers.pipeline import reconcile as reconcile_step
from workers.pipeline.runtime import runtime
from workers.pipeline.step_errors import describe, is_unexpected
from workers.pipeline.transient import transient_boundary
from workers.redis_clients import redis_client
from workers.schedule import runs as scheduled_runs
from workers.settings import load_settings
from workers.telemetry import traces

logger = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_BASE_S = 2.0


class CeleryDispatcher:
    """Schedules the pipeline's next steps as tasks, each sent from inside its load's trace."""

    def split(self, load_id: str) -> None:
        with _in_load_trace(load_id):
            split_source.apply_async((load_id,))

    def submit(self, load_id: str, index: int, countdown: float = 0) -> None:
        with _in_load_trace(load_id):
            submit_chunk.apply_async((load_id, index), countdown=min(countdown, MAX_COUNTDOWN_S))

    def poll(self, load_id: str, index: int, token: str, countdown: float) -> None:
        with _in_load_trace(load_id):
            poll_chunk.apply_async(
                (load_id, index, token), countdown=min(countdown, MAX_COUNTDOWN_S)
            )

    def collect(self, load_id: str, index: int) -> None:
        with _in_load_trace(load_id):
            collect_chunk.apply_async((load_id, index))

    def finish(self, load_id: str) -> None:
        with _in_load_trace(load_id):
            finish_load.apply_async((load_id,))

    def pump(self, countdown: float = 0) -> None:
        pump.apply_async(countdown=min(countdown, MAX_COUNTDOWN_S))

    def callback(self, task_name: str, report: dict[str, Any], queue: str | None) -> None:
        # Checked again at sending: a load recorded before the rules, or another CALLBACK_QUEUES.
        allowed = runtime().settings.callback_queue_allowlist
        problems = callback_problems(task_name, queue, allowed)
        if problems:
            logger.error(
                "callback not sent load_id=%s: %s", report.get("load_id"), "; ".join(problems)
            )
            return
        with _in_load_trace(str(report.get("load_id") or "")):
            app.send_task(task_name, kwargs={"report": report}, queue=queue)


def _in_load_trace(load_id: str) -> AbstractContextManager[None]:
    """While sending a message about ``load_id``: its trace, stored when it started."""
    return traces.in_load_trace(load_id, lambda: runtime().ledger.load(load_id).trace_context)


DISPATCH = CeleryDispatcher()

# Beat's entries, in place before beat starts its scheduler (it imports this module first).
beat_schedule.install(app, load_settings(), SCHEDULED_LOADS)


def _run(task: Task, step: Callable[[], T]) -> T:
    """Run a step; a transient error retries the task after a short, jittered countdown.

    Redis and S3 outages count as transient (``transient_boundary``), so a step
    caught by a broker restart retries itself rather than waiting for the reconciler.
    """
    try:
        return transient_boundary(step)
    except DailyQuotaExhausted as error:
        wait = max(1.0, min(MAX_COUNTDOWN_S, error.resets_at - time.time()))
        _retry(task, wait)
    except TransientError as error:
        attempt = task.request.retries
        wait = min(MAX_COUNTDOWN_S, random.uniform(0, RETRY_BASE_S * 2 ** min(attempt, 6)))
        logger.warning("%s: transient error, retrying in %.1fs: %s", task.name, wait, error)
        _retry(task, wait)
    except Exception as error:
        # A permanent error (bad input, a refused request) is the step's answer: as is.
        if isinstance(error, PermanentError | TaskPredicate) or not is_unexpected(error):
            raise
        # Steps that hold a permit or a lease count their own unexpected errors in the
        # ledger and give up at the limit; anything else is retried a bounded number of
        # times, then fails the task with a bounded message that holds no secret.
        settings = runtime().settings
        secret = settings.marketo_client_secret
        text = describe(error, secret.get_secret_value() if secret else None)
        attempt = task.request.retries + 1
        logger.error("%s: unexpected error (attempt %d of %d): %s", task.name, attempt,
                     settings.unexpected_error_attempts, text, exc_info=error)  # fmt: skip
        if attempt < settings.unexpected_error_attempts:
            wait = min(MAX_COUNTDOWN_S, RETRY_BASE_S * 2**attempt)
            _retry(task, wait)
        raise UnexpectedStepError(
            f"{task.name} failed {attempt} times with an unexpected error: {text}"
        ) from None


def _retry(task: Task, countdown: float) -> NoReturn:
    """Schedule the task again; if even that cannot reach the broker, give the message back.

    Publishing the retry waits out a broker outage (``task_publish_retry_policy``).
    If it still fails, Celery would reject the message without requeueing it, and
    only the reconciler could re-drive the step: requeue it instead, so it runs
    again as soon as Redis takes it (or, if Redis cannot even take the reject, it
    stays unacknowledged and comes back after the visibility timeout).
    """
    try:
        raise task.retry(countdown=countdown, max_retries=None)
    except Reject as rejected:
        logger.warning("%s: could not schedule its retry, requeued: %s", task.name, rejected.reason)
        raise Reject(rejected.reason, requeue=True) from None


@app.task(name="mkto_bulk.start_load", bind=True)
def start_load(self: Task, **payload: Any) -> dict[str, Any]:
    """``workers.pipeline.start``: start a load from a JSON payload (docs/etl/payload.md).

    Returns ``{"load_id", "created"}``.
    """
    # The task id survives redelivery, so a repeated start finds the load it made.
    return _run(self, lambda: start.start_load(runtime(), DISPATCH, payload, self.request.id))


@app.task(name="mkto_bulk.retry_load", bind=True)
def retry_load(self: Task, load_id: str) -> dict[str, Any]:
    """``workers.pipeline.retry``: start a load of the rows that failed or were not sent.

    Returns ``{"load_id", "created", "retry_of", "rows", "source"}``.
    """
    return _run(self, lambda: retry.retry(runtime(), DISPATCH, load_id))


@app.task(name="mkto_bulk.split_source", bind=True)
def split_source(self: Task, load_id: str) -> str:
    """``workers.pipeline.split``: split the source into chunks that queue for Marketo."""
    return _run(self, lambda: split.split(runtime(), DISPATCH, load_id))


@app.task(name="mkto_bulk.submit_chunk", bind=True)
def submit_chunk(self: Task, load_id: str, index: int) -> str:
    """``workers.pipeline.submit``: upload one admitted chunk as a Marketo import job."""
    return _run(self, lambda: submit.submit(runtime(), DISPATCH, load_id, index))


@app.task(name="mkto_bulk.poll_chunk", bind=True)
def poll_chunk(self: Task, load_id: str, index: int, token: str) -> str:
    """``workers.pipeline.poll``: ask Marketo for the job's status, poll again or collect."""
    return _run(self, lambda: poll.poll(runtime(), DISPATCH, load_id, index, token))


@app.task(name="mkto_bulk.collect_chunk", bind=True)
def collect_chunk(self: Task, load_id: str, index: int) -> str:
    """``workers.pipeline.collect``: copy a finished job's failure and warning files to S3."""
    return _run(self, lambda: collect.collect(runtime(), DISPATCH, load_id, index))


@app.task(name="mkto_bulk.finish_load", bind=True)
def finish_load(self: Task, load_id: str) -> str:
    """``workers.pipeline.finish``: close the load once every chunk is terminal; its report."""
    return _run(self, lambda: finish.finish(runtime(), DISPATCH, load_id))


@app.task(name="mkto_bulk.pump", bind=True)
def pump(self: Task) -> int:
    """``workers.pipeline.submit``: give free permits to the chunks first in line."""
    return len(_run(self, lambda: submit.pump(runtime(), DISPATCH)))


@app.task(name="mkto_bulk.marketo_usage", bind=True)
def marketo_usage(self: Task) -> dict[str, int]:
    """``workers.pipeline.marketo_usage``: Marketo's usage report; others' calls lower our share."""
    return _run(self, lambda: marketo_usage_step.check(runtime()))


@app.task(name="mkto_bulk.reconcile", bind=True)
def reconcile(self: Task) -> dict[str, int]:
    """``workers.pipeline.reconcile``: re-drive every step a crash or lost message left."""
    return _run(self, lambda: reconcile_step.reconcile(runtime(), DISPATCH))


@app.task(name="mkto_bulk.cancel_load", bind=True)
def cancel_load(self: Task, load_id: str) -> dict[str, Any]:
    """``workers.pipeline.control``: cancel a load; its jobs already in Marketo finish.

    Returns ``{"load_id", "outcome", "state", "message"}`` (docs: priorities-cancel-resume).
    """
    return _run(self, lambda: control.cancel(runtime(), DISPATCH, load_id))


@app.task(name="mkto_bulk.resume_load", bind=True)
def resume_load(self: Task, load_id: str) -> dict[str, Any]:
    """``workers.pipeline.control``: resume a cancelled or failed load's unsent chunks."""
    return _run(self, lambda: control.resume(runtime(), DISPATCH, load_id))


@app.task(name="mkto_bulk.run_scheduled", bind=True)
def run_scheduled(self: Task, name: Any = None, **unexpected: Any) -> str:
    """``workers.schedule.runs``: beat's tick for one scheduled load, by name.

    Starts, keeps waiting for, or fails its run.

    Only entries beat read from its schedule file run; anything else is refused and logged.
    """
    rt = runtime()
    now = datetime.now(UTC)
    return _run(self, lambda: scheduled_runs.run_by_name(rt, DISPATCH, name, now, unexpected))


@beat_init.connect
def publish_schedule(sender: Any = None, **_: Any) -> None:
    """Beat, at start: publish the entries it validated, the only ones a tick may run."""
    try:
        # Beat has no Marketo secret: its own Redis client, not a worker's runtime.
        client = redis_client(load_settings())
        scheduled_runs.publish_entries(client, SCHEDULED_LOADS)
    except redis.RedisError as error:
        logger.critical("beat cannot publish its schedule to Redis (REDIS_URL): %s", error)
        raise SystemExit(1) from None
    logger.info("published %d scheduled loads: %s", len(SCHEDULED_LOADS),
                ", ".join(load.name for load in SCHEDULED_LOADS) or "none")  # fmt: skip
