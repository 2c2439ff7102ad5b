"""The periodic schedule: the reconciler sweep (nightly loads join it from their config file)."""

from __future__ import annotations

from typing import Any


def beat_schedule(reconcile_interval_s: float) -> dict[str, dict[str, Any]]:
    """Celery beat entries; the reconciler re-drives whatever a crash left behind."""
    return {
        "mkto-bulk-reconcile": {
            "task": "mkto_bulk.reconcile",
            "schedule": reconcile_interval_s,
            # A sweep that waited longer than an interval is superseded by the next one.
            "options": {"expires": reconcile_interval_s},
        }
    }
