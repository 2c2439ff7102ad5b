"""The Celery application: broker, serialization, queues and reliability settings in one place."""

from __future__ import annotations

import sys

from celery import Celery
from kombu import Queue

from beat_schedule import beat_schedule
from workers.errors import SettingsError
from workers.settings import get_settings

# Queues by kind of work, so each can be scaled (and starved) on its own.
# Loads enter on Celery's default queue, so an ETL's plain
# ``send_task("mkto_bulk.start_load", kwargs=...)`` needs no routing of its own.
ENTRY_QUEUE = "celery"
SPLIT_QUEUE = "mkto_split"  # CPU and S3 bound, long
MARKETO_QUEUE = "mkto_marketo"  # submits and collects: Marketo API calls, uploads
POLL_QUEUE = "mkto_poll"  # short status polls and bookkeeping

# Every countdown a task schedules stays below this, and the broker's
# visibility timeout stays well above it: a message that waits longer than the
# visibility timeout is delivered twice (celery#2599).
MAX_COUNTDOWN_S = 120
VISIBILITY_TIMEOUT_S = 1800

ROUTES = {
    "mkto_bulk.start_load": {"queue": ENTRY_QUEUE},
    "mkto_bulk.split_source": {"queue": SPLIT_QUEUE},
    "mkto_bulk.submit_chunk": {"queue": MARKETO_QUEUE},
    "mkto_bulk.collect_chunk": {"queue": MARKETO_QUEUE},
    "mkto_bulk.*": {"queue": POLL_QUEUE},
}

try:
    _settings = get_settings()
except SettingsError as error:
    # A worker with a bad environment must say why in one line, not a traceback.
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
    beat_schedule=beat_schedule(_settings.reconcile_interval_s),
    timezone="UTC",
)
