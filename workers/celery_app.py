"""The Celery application: broker, serialization and reliability settings in one place."""

from __future__ import annotations

import sys

from celery import Celery

from workers.errors import SettingsError
from workers.settings import get_settings

try:
    _settings = get_settings()
except SettingsError as error:
    # A worker with a bad environment must say why in one line, not a traceback.
    print(f"mkto-bulk: {error}", file=sys.stderr)
    raise SystemExit(2) from None

app = Celery("mkto_bulk", broker=_settings.redis_url, backend=_settings.redis_url)
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
    timezone="UTC",
)
