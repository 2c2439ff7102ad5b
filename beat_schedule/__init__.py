"""The periodic schedule: the reconciler sweep, and the nightly loads of the schedule file.

celery-redbeat keeps these entries in Redis and lets one beat at a time send
them. It stores a ``crontab`` without its time zone, so a scheduled load is
sent as a short interval "tick" naming its entry, and the task works out
the cron's latest fire time in the entry's own zone (``workers.schedule.cron``).
The tick carries only the name: the task runs the entry beat validated and
published at start (``workers.schedule.runs.ENTRIES_KEY``), so a message
can never make a worker run an entry of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from workers.schedule import RUN_SCHEDULED_TASK

if TYPE_CHECKING:
    from celery import Celery

    from workers.schedule.config import ScheduledLoad
    from workers.settings import Settings

__all__ = ["RUN_SCHEDULED_TASK", "beat_schedule", "install"]
# A tick waiting in the queue this many intervals is superseded by later ones.
TICK_EXPIRY_INTERVALS = 10


def beat_schedule(
    reconcile_interval_s: float,
    loads: Iterable[ScheduledLoad] = (),
    tick_s: float = 30.0,
    push_sweep_s: float | None = None,
    usage_check_s: float = 0,
) -> dict[str, dict[str, Any]]:
    """Celery beat entries; the reconciler re-drives whatever a crash left behind.

    With ``push_sweep_s``, the push queues' sweep too: a queue whose flush is
    overdue (its scheduled flush or its flusher was lost) is flushed again. With
    ``usage_check_s`` (above 0), a look at Marketo's usage report that often.
    """
    entries: dict[str, dict[str, Any]] = {
        "mkto-bulk-reconcile": {
            "task": "mkto_bulk.reconcile",
            "schedule": reconcile_interval_s,
            # A sweep that waited longer than an interval is superseded by the next one.
            "options": {"expires": reconcile_interval_s},
        }
    }
    if push_sweep_s is not None:
        entries["mkto-bulk-push-sweep"] = {
            "task": "mkto_bulk.push_sweep",
            "schedule": push_sweep_s,
            "options": {"expires": push_sweep_s},
        }
    if usage_check_s > 0:
        entries["mkto-bulk-marketo-usage"] = {
            "task": "mkto_bulk.marketo_usage",
            "schedule": usage_check_s,
            "options": {"expires": usage_check_s},
        }
    for load in loads:
        entries[load.beat_name] = {
            "task": RUN_SCHEDULED_TASK,
            "schedule": tick_s,
            "kwargs": {"name": load.name},
            "options": {"expires": max(60.0, TICK_EXPIRY_INTERVALS * tick_s)},
        }
    return entries


def install(app: Celery, settings: Settings, loads: Iterable[ScheduledLoad] = ()) -> None:
    """Give the Celery app its beat entries; beat reads them when its scheduler starts.

    Called from the task modules the app includes (``tasks.load``), which every
    beat imports before it starts its scheduler, so ``workers`` never imports this package.
    """
    app.conf.beat_schedule = beat_schedule(
        settings.reconcile_interval_s,
        loads,
        tick_s=settings.schedule_tick_s,
        push_sweep_s=settings.push_sweep_interval_s,
        usage_check_s=settings.marketo_usage_check_s,
    )
