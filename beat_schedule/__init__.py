"""The periodic schedule: the reconciler sweep, and the nightly loads of the schedule file.

celery-redbeat keeps these entries in Redis and lets one beat at a time send
them. It stores a ``crontab`` without its time zone, so a scheduled load is
sent as a short interval "tick" naming its entry, and the task works out
the cron's latest fire time in the entry's own zone (``beat_schedule.cron``).
The tick carries only the name: the task runs the entry beat validated and
published at start (``workers.scheduled_runs.ENTRIES_KEY``), so a message
can never make a worker run an entry of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from beat_schedule.config import ScheduledLoad

RUN_SCHEDULED_TASK = "mkto_bulk.run_scheduled"
# A tick waiting in the queue this many intervals is superseded by later ones.
TICK_EXPIRY_INTERVALS = 10


def beat_schedule(
    reconcile_interval_s: float,
    loads: Iterable[ScheduledLoad] = (),
    tick_s: float = 30.0,
) -> dict[str, dict[str, Any]]:
    """Celery beat entries; the reconciler re-drives whatever a crash left behind."""
    entries: dict[str, dict[str, Any]] = {
        "mkto-bulk-reconcile": {
            "task": "mkto_bulk.reconcile",
            "schedule": reconcile_interval_s,
            # A sweep that waited longer than an interval is superseded by the next one.
            "options": {"expires": reconcile_interval_s},
        }
    }
    for load in loads:
        entries[load.beat_name] = {
            "task": RUN_SCHEDULED_TASK,
            "schedule": tick_s,
            "kwargs": {"name": load.name},
            "options": {"expires": max(60.0, TICK_EXPIRY_INTERVALS * tick_s)},
        }
    return entries
