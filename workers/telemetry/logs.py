"""The log format of Celery's processes (worker, its pool processes, beat): LOG_FORMAT.

``text`` keeps Celery's own lines. ``json`` writes one JSON object per line, for
every logger: once Celery has set up its handlers (``after_setup_logger``,
``after_setup_task_logger``), each gets the JSON formatter and the
:class:`~workers.telemetry.context.ContextFilter`, so a record carries
``load_id``, ``chunk``, ``batch_id``, ``task_id``, ``task_name`` (and, when
tracing, ``trace_id`` and ``span_id``) as fields, next to ``time``, ``level``,
``logger``, ``process`` and ``message``; a call's own ``extra`` fields (the
Marketo client's ``marketo`` object) are fields too. What a worker or beat says
before Celery's logging is set up (Python's warnings, such as Celery's about
running as root) goes through a JSON handler of its own, and the notices its
signal handlers write straight to stdout (``worker: Warm shutdown``) are JSON
lines too; its start-up banner, plain text, is left out.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import suppress
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from workers.telemetry import context

if TYPE_CHECKING:
    from celery import Celery

    from workers.settings import Settings

# Record attributes written first, and the names they are written under.
JSON_FIELDS = "%(levelname)s %(name)s %(processName)s %(message)s"
RENAMED = {"levelname": "level", "name": "logger", "processName": "process"}

_FILTER = context.ContextFilter()


@cache
def json_formatter() -> logging.Formatter:
    """One JSON object per record: ``time`` (UTC, ISO 8601) first, then the fields."""
    from pythonjsonlogger.json import JsonFormatter

    class _JsonLines(JsonFormatter):
        def add_fields(
            self, log_data: dict[str, Any], record: logging.LogRecord, message: dict[str, Any]
        ) -> None:
            created = datetime.fromtimestamp(record.created, tz=UTC)
            log_data["time"] = created.isoformat(timespec="milliseconds")
            super().add_fields(log_data, record, message)

    return _JsonLines(JSON_FIELDS, rename_fields=RENAMED)


def use_json(logger: logging.Logger) -> None:
    """Every handler of ``logger`` writes JSON lines with the context's fields."""
    for handler in logger.handlers:
        handler.setFormatter(json_formatter())
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def _after_setup(logger: logging.Logger | None = None, **_: Any) -> None:
    from celery.utils.log import get_multiprocessing_logger

    if logger is None:
        return
    use_json(logger)
    if logger is logging.getLogger():  # the pool's own logger has handlers of its own
        pool_logger = get_multiprocessing_logger()
        if pool_logger is not None:
            use_json(pool_logger)


def _without_banner(cls: type) -> type:
    """The class Celery starts (its worker or beat), quiet: no banner on stdout."""

    class Quiet(cls):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["quiet"] = True
            super().__init__(*args, **kwargs)

    Quiet.__name__ = Quiet.__qualname__ = cls.__name__
    return Quiet


def _say_as_json(message: str, out: Any = sys.__stderr__) -> None:
    """Celery's ``safe_say`` (its signal handlers' notices), as a JSON line on the same file."""
    record = logging.LogRecord("celery.apps.worker", logging.INFO, "", 0, message, None, None)
    line = json_formatter().format(record) + "\n"
    with suppress(AttributeError, OSError, ValueError):  # best effort, as Celery's own
        os.write(out.fileno(), line.encode())


def _json_from_the_start() -> None:
    """Until Celery sets up its handlers: a JSON handler on stderr, Python's warnings in it."""
    import celery.apps.worker

    logging.captureWarnings(True)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
        use_json(root)
    celery.apps.worker.safe_say = _say_as_json


def install(app: Celery, settings: Settings, command: str | None = None) -> None:
    """Tasks bind their load and chunk; with LOG_FORMAT=json, every handler writes JSON.

    ``command`` is the ``celery`` subcommand this process runs: a worker's or
    beat's output is JSON from its first line.
    """
    from celery.signals import after_setup_logger, after_setup_task_logger

    from workers.settings import LogFormat

    context.install_task_context()
    if settings.log_format is not LogFormat.JSON:
        return
    uid = "mkto_bulk.json_logs"
    after_setup_logger.connect(_after_setup, weak=False, dispatch_uid=uid)
    after_setup_task_logger.connect(_after_setup, weak=False, dispatch_uid=uid)
    if command in ("worker", "beat"):
        _json_from_the_start()
        app.Worker = _without_banner(app.Worker)
        app.Beat = _without_banner(app.Beat)
