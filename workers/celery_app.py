"""The Celery application: broker, serialization, queues and reliability settings in one place."""

from __future__ import annotations

import sys

from celery import Celery
from kombu import Queue

from workers import kombu_patch
from workers.errors import SettingsError

# Queues by kind of work, so each can be scaled (and starved) on its own.
from workers.queues import ENTRY_QUEUE, MARKETO_QUEUE, POLL_QUEUE, SPLIT_QUEUE
from workers.redis_clients import celery_redis_conf
from workers.schedule import RUN_SCHEDULED_TASK
from workers.schedule.config import scheduled_loads
from workers.settings import load_settings
from workers.state import keys as redis_keys
from workers.telemetry import logs, traces

# Every countdown a task schedules stays below this, and the broker's
# visibility timeout stays well above it: a message that waits longer than the
# visibility timeout is delivered twice (celery#2599).
#
# The visibility timeout (30 min) is also above everything else a message can
# wait for: a submit (bounded by twice MARKETO_CALL_LEASE_S, 6 min), a publish
# waiting out a broker outage (BROKER_OUTAGE_WAIT_S, at most 10 min). A split
# can outlast it on a huge source; then the redelivered copy finds the split
# lease renewed and leaves. The lease (SPLIT_LEASE_S, 30 s) is far shorter than
# the visibility timeout on purpose: a killed splitter's message comes back only
# after 30 min, so the lapsed lease plus the reconciler's next sweep, not
# redelivery, is what runs the split again, within a minute or so.
MAX_COUNTDOWN_S = 120
VISIBILITY_TIMEOUT_S = 1800

# Publish retries while the broker is away: kombu waits 0, 0.5, 1, 1.5, 2, 2, ... s.
PUBLISH_RETRY_STEP_S = 0.5
PUBLISH_RETRY_MAX_S = 2.0
# Result writes back off exponentially (Celery caps each wait at 10 s).
RESULT_RETRY_MAX_SLEEP_MS = 2000

ROUTES = {
    "mkto_bulk.start_load": {"queue": ENTRY_QUEUE},
    "mkto_bulk.push_records": {"queue": ENTRY_QUEUE},  # quick: checks records, appends them
    "mkto_bulk.cancel_load": {"queue": ENTRY_QUEUE},  # quick: a few Redis scripts
    "mkto_bulk.resume_load": {"queue": ENTRY_QUEUE},
    "mkto_bulk.push_flush": {"queue": MARKETO_QUEUE},
    RUN_SCHEDULED_TASK: {"queue": ENTRY_QUEUE},  # quick: checks a source, starts a load
    "mkto_bulk.split_source": {"queue": SPLIT_QUEUE},
    "mkto_bulk.retry_load": {"queue": SPLIT_QUEUE},  # reads chunk files, writes the retry's
    "mkto_bulk.submit_chunk": {"queue": MARKETO_QUEUE},
    "mkto_bulk.collect_chunk": {"queue": MARKETO_QUEUE},
    "mkto_bulk.marketo_usage": {"queue": MARKETO_QUEUE},  # one Marketo call
    "mkto_bulk.*": {"queue": POLL_QUEUE},
}

# Beat's lock in Redis (celery-redbeat): a second beat stands by. The active beat
# wakes (and extends the lock) at least every third of the lock's lifetime; a
# standby retries as often, so it takes over within 4/3 of the timeout.
REDBEAT_KEY_PREFIX = redis_keys.REDBEAT_PREFIX
BEAT_LOCK_WAKEUPS = 3


def publish_retry_policy(wait_s: float) -> dict[str, float | int]:
    """kombu's retry policy for publishing that keeps trying for about ``wait_s`` seconds."""
    retries, waited, interval = 0, 0.0, 0.0
    while waited < wait_s:
        waited += interval
        interval = min(interval + PUBLISH_RETRY_STEP_S, PUBLISH_RETRY_MAX_S)
        retries += 1
    return {
        "max_retries": retries,
        "interval_start": 0,
        "interval_step": PUBLISH_RETRY_STEP_S,
        "interval_max": PUBLISH_RETRY_MAX_S,
    }


def _celery_command() -> str | None:
    """The ``celery`` subcommand this process runs (``worker``, ``beat``, ...), if any."""
    import click

    context = click.get_current_context(silent=True)
    return None if context is None else context.invoked_subcommand


# Processes that never call Marketo start without its secret: beat only sends
# messages, Flower and the inspect/control commands only read the broker.
_NO_MARKETO_COMMANDS = frozenset({"beat", "flower", "inspect", "control", "events", "status"})

try:
    _command = _celery_command()
    _settings = load_settings(require_marketo=_command not in _NO_MARKETO_COMMANDS)
    # Beat validates the schedule file at start, like the environment, before
    # it touches the schedule in Redis, and publishes the entries there (tasks.load);
    # a tick names its entry, so workers need neither the file nor SCHEDULE_FILE.
    SCHEDULED_LOADS = scheduled_loads(_settings) if _command == "beat" else []
    traces.check(_settings)  # OTEL_TRACES_EXPORTER without the otel extra
except SettingsError as error:
    # A worker or beat with a bad environment must say why in one line, not a traceback.
    print(f"mkto-bulk: {error}", file=sys.stderr)
    raise SystemExit(2) from None

# Before any broker connection exists: a worker survives a Redis restart (see the module).
kombu_patch.apply()

# Broker, results and beat's lock on REDIS_URL: one server, or the primary Sentinel names.
_redis_conf = celery_redis_conf(_settings, {"visibility_timeout": VISIBILITY_TIMEOUT_S})
app = Celery(
    "mkto_bulk",
    broker=_redis_conf["broker_url"],
    backend=_redis_conf["result_backend"],
    include=["tasks.load", "tasks.push"],
)
app.conf.update(
    **_redis_conf,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_send_task_events=True,
    task_send_sent_event=True,
    broker_connection_retry_on_startup=True,
    # A step that publishes (its retry, the next step) while Redis restarts waits
    # for it instead of failing; so does writing its result.
    task_publish_retry_policy=publish_retry_policy(_settings.broker_outage_wait_s),
    result_backend_always_retry=True,
    result_backend_max_retries=publish_retry_policy(_settings.broker_outage_wait_s)["max_retries"],
    result_backend_max_sleep_between_retries_ms=RESULT_RETRY_MAX_SLEEP_MS,
    result_expires=7 * 24 * 3600,
    task_queues=[Queue(ENTRY_QUEUE), Queue(SPLIT_QUEUE), Queue(MARKETO_QUEUE), Queue(POLL_QUEUE)],
    task_default_queue=POLL_QUEUE,
    task_routes=ROUTES,
    # beat_schedule (the reconciler sweep, the scheduled loads) is set by
    # ``beat_schedule.install``, called by the included task modules before beat's
    # scheduler starts: the app does not depend on the beat_schedule package.
    beat_scheduler="workers.schedule.beat_scheduler:ResilientRedBeatScheduler",
    beat_max_loop_interval=_settings.beat_lock_timeout_s / BEAT_LOCK_WAKEUPS,
    redbeat_key_prefix=REDBEAT_KEY_PREFIX,
    redbeat_lock_timeout=_settings.beat_lock_timeout_s,
    timezone="UTC",
)
# LOG_FORMAT, each task's log context, and traces when OTEL_TRACES_EXPORTER asks for them.
logs.install(app, _settings, _command)
traces.install(_settings)
