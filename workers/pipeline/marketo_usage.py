"""Beat's look at Marketo's usage report: other integrations' calls today, kept for every worker.

One call every ``MARKETO_USAGE_CHECK_S``. What the others used beyond
``MARKETO_DAILY_QUOTA_RESERVE`` comes off our share at once, for every worker's
next call (``workers.marketo.usage``). A reading that fails (the quota used up,
Marketo away) changes nothing: the last one stands, and the next tick tries again.
"""

from __future__ import annotations

import logging
import time

from workers.errors import MarketoError
from workers.marketo import usage
from workers.marketo.budgets import marketo_day
from workers.pipeline.runtime import Runtime

logger = logging.getLogger(__name__)


def check(rt: Runtime) -> dict[str, int]:
    """Read the report, keep it for the day, and return what it says (and our share now)."""
    settings = rt.settings
    day = marketo_day(time.time()).isoformat()
    try:
        reading = usage.read_usage(rt.marketo, settings.marketo_api_user)
    except MarketoError as error:  # Marketo's answer, or our own budgets: try at the next tick
        logger.warning("marketo usage not read: %s", error)
        return {"read": 0}
    usage.save(rt.redis, settings.instance, day, reading)
    share = rt.marketo.budgets.daily_limit()
    reserve = settings.marketo_daily_quota_reserve
    log = logger.warning if reading.others > reserve else logger.info
    log(
        "marketo usage today instance=%s total=%d ours=%d others=%d reserve=%d share=%d",
        settings.instance, reading.total, reading.ours, reading.others, reserve, share,
    )  # fmt: skip
    return {"read": 1, "total": reading.total, "ours": reading.ours,
            "others": reading.others, "share": share}  # fmt: skip
