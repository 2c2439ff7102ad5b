"""The Celery application: broker, serialization, queues and reliability settings in one place."""

from __future__ import annotations

import sys

from celery import Celery
from kombu import Queue

from beat_schedule import RUN_SCHEDULED_TASK, beat_schedule
from beat_schedule.config import scheduled_loads
from workers.errors import SettingsError

# Queues by kind of work, so each can be scaled (and starved) on its own.
from workers.queues import ENTRY_QUEUE, MARKETO_QUEUE, POLL_QUEUE, SPLIT_QUEUE
from workers.settings import load_settings

# Every countdown a task schedules stays below this, and the broker's
# visibility timeout stays well above it: a message that waits longer than the
# visibility timeout is delivered twice (celery#2599).
MAX_COUNTDOWN_S = 120
VISIBILITY_TIMEOUT_S = 1800

ROUTES = {
    "mkto_bulk.start_load": {"queue": ENTRY_QUEUE},
    RUN_SCHEDULED_TASK: {"queue": ENTRY_QUEUE},  # quick: checks a source, starts a load
    "mkto_bulk.split_source": {"queue": SPLIT_QUEUE},
    "mkto_bulk.submit_chunk": {"queue": MARKETO_QUEUE},
    "mkto_bulk.collect_chunk": {"queue": MARKETO_QUEUE},
    "mkto_bulk.*": {"queue": POLL_QUEUE},
}

# Beat's lock in Redis (celery-redbeat): a second beat stands by. The active beat
# wakes (and extends the lock) at least every third of the lock's lifetime; a
# standby retries as often, so it takes over within 4/3 of the timeout.
REDBEAT_KEY_PREFIX = "mkto:redbeat:"
BEAT_LOCK_WAKEUPS = 3


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
except SettingsError as error:
    # A worker or beat with a bad environment must say why in one line, not a traceback.
    print(f"mkto-bulk: {error}", file=sys.stderr)
    raise SystemExit(2) from None

app = Celery(
    "mkto_bulk",
    broker=_settings.redis_url,
    backend=_settings.redis_url,
    include=["tasks.load"],
)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_send_task_events=True,
    task_send_sent_event=True,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
    result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
    result_expires=7 * 24 * 3600,
    task_queues=[Queue(ENTRY_QUEUE), Queue(SPLIT_QUEUE), Queue(MARKETO_QUEUE), Queue(POLL_QUEUE)],
    task_default_queue=POLL_QUEUE,
    task_routes=ROUTES,
    beat_schedule=beat_schedule(
        _settings.reconcile_interval_s, SCHEDULED_LOADS, tick_s=_settings.schedule_tick_s
    ),
    beat_scheduler="redbeat.RedBeatScheduler",
    beat_max_loop_interval=_settings.beat_lock_timeout_s / BEAT_LOCK_WAKEUPS,
    redbeat_redis_url=_settings.redis_url,
    redbeat_key_prefix=REDBEAT_KEY_PREFIX,
    redbeat_lock_timeout=_settings.beat_lock_timeout_s,
    # Said explicitly, so redbeat does not borrow the broker's transport options.
    redbeat_redis_options={},
    timezone="UTC",
)
