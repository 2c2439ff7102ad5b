"""A load's priority: which loads' chunks the admission grants permits to first.

Permits go to the highest priority with chunks waiting, and round-robin between
the loads of one priority (``workers/state/admission.py``). The payload's
``priority`` sets it; a load without one is ``normal`` (``defaults.LOAD_PRIORITY``).
"""

from __future__ import annotations

from enum import StrEnum

from workers import defaults


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


# The order permits are granted in: every waiting chunk of a priority before the next one's.
GRANT_ORDER = (Priority.HIGH, Priority.NORMAL, Priority.LOW)
DEFAULT_PRIORITY = Priority(defaults.LOAD_PRIORITY)
