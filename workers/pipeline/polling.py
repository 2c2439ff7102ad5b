"""When to poll an import job next, knowing Marketo's queue is FIFO with two import slots.

A job behind two of ours cannot be importing, so it is polled rarely and is
poked early when a job ahead of it finishes. A job that is importing is polled
when it should be done, from the rows per second the instance has shown.
"""

from __future__ import annotations

IMPORT_SLOTS = 2


def next_poll_delay(
    *,
    state: str,
    rank: int,
    rows: int,
    rows_per_s: float | None,
    importing_for_s: float,
    poll_min_s: float,
    poll_max_s: float,
) -> float:
    """Seconds until the next status call for one job.

    ``rank``: how many of our outstanding jobs were submitted before this one.
    """
    if state == "Importing" or (state == "Queued" and rank < IMPORT_SLOTS):
        if not rows_per_s:
            return poll_min_s
        remaining = rows / rows_per_s - importing_for_s
        return min(poll_max_s, max(poll_min_s, remaining))
    return poll_max_s


def updated_rate(previous: float | None, rows: int, seconds: float, weight: float = 0.3) -> float:
    """Exponentially weighted rows per second (a single slow job does not dominate)."""
    sample = rows / max(seconds, 0.001)
    return sample if previous is None else (1 - weight) * previous + weight * sample
