"""Why a running load is not moving: its Marketo daily share is used up until the reset.

A step that meets ``DailyQuotaExhausted`` records the reason on its load (so
``mkto-bulk status``, the report and the metrics can say so) and looks again
after ``Settings.quota_recheck_s`` at most: a quota raised meanwhile (``mkto-bulk
quota set``) lets the load resume long before midnight. The first step that
gets through clears the reason.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from workers.errors import DailyQuotaExhausted
from workers.marketo.budgets import MARKETO_TZ
from workers.pipeline.runtime import Runtime
from workers.state.ledger import Load

logger = logging.getLogger(__name__)

REASON_DAILY_QUOTA = "daily_quota"
WAIT_FIELDS = ("waiting", "waiting_reason", "waiting_until")  # cleared on resume; "last_wait" stays


def reset_text(resets_at: float) -> str:
    """The reset in Marketo's zone and in UTC: ``2026-12-02 00:00 CST (America/Chicago), ...``."""
    local = datetime.fromtimestamp(resets_at, MARKETO_TZ)
    utc = datetime.fromtimestamp(resets_at, UTC)
    return f"{local:%Y-%m-%d %H:%M %Z} (America/Chicago), {utc:%Y-%m-%d %H:%M} UTC"


def wait_text(resets_at: float) -> str:
    return f"waiting for the daily quota to reset at {reset_text(resets_at)}"


def recheck_delay(rt: Runtime, error: DailyQuotaExhausted) -> float:
    """Look again at the reset, or sooner: the quota may be raised in between."""
    until_reset = error.resets_at - time.time() if error.resets_at else rt.settings.quota_recheck_s
    return max(1.0, min(rt.settings.quota_recheck_s, until_reset))


def record(rt: Runtime, load_id: str, error: DailyQuotaExhausted) -> float:
    """Say on the load why it waits (counted once per wait); returns the delay to look again."""
    text = wait_text(error.resets_at) if error.resets_at else "waiting for the daily quota"
    if rt.ledger.mark_waiting(load_id, REASON_DAILY_QUOTA):
        logger.warning("load_id=%s %s: %s", load_id, text, error)
    rt.ledger.set_load_fields(
        load_id, {"waiting": text, "waiting_until": error.resets_at, "last_wait": text}
    )
    return recheck_delay(rt, error)


def clear(rt: Runtime, load_id: str, load: Load) -> None:
    """Work resumed: drop the wait reason (only when there is one, read with ``load``)."""
    if load.waiting_reason or load.waiting:
        rt.ledger.clear_load_fields(load_id, *WAIT_FIELDS)
        logger.info("load_id=%s resumed after waiting for the daily quota", load_id)
