"""Instance limits: rolling rate window (606), concurrency (615), daily quota (607).

Identity calls and calls rejected before execution (auth errors, 606/607/615,
injected 604/5xx) are not counted, following error-codes.md ("not counted against
your daily quota, or your rate limit"); every Marketo call is still *observed*
for the stats, so a client's real call pattern is visible.
"""

from __future__ import annotations

from collections import Counter, deque
from datetime import datetime
from zoneinfo import ZoneInfo

from infra.sandbox.config import Settings
from infra.sandbox.envelope import MarketoError


class Limits:
    """Counters for one instance; the caller holds the state lock."""

    def __init__(self) -> None:
        self.inflight = 0
        self.reset()

    def reset(self) -> None:
        # Calls still running when the admin resets are really in flight: keep
        # counting them, or their leave() would drive the count below zero.
        self._counted: deque[float] = deque()
        self._observed: deque[float] = deque()
        self.max_inflight = self.inflight
        self.max_in_window = 0
        self._day: str = ""
        self._daily = 0
        self._by_user: Counter[str] = Counter()  # today's counted calls by API user

    def enter(self, settings: Settings) -> bool:
        """Mark a call in flight; False when that makes more than the allowed concurrency."""
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        return self.inflight <= settings.max_concurrent_calls

    def leave(self) -> None:
        self.inflight -= 1

    def observe(self, now: float, settings: Settings) -> None:
        """Every Marketo call received (not identity): feeds ``max_calls_in_window``."""
        _trim(self._observed, now, settings.rate_limit_window)
        self._observed.append(now)
        self.max_in_window = max(self.max_in_window, len(self._observed))

    def admit(self, now: float, settings: Settings, user: str = "") -> None:
        """Count the call against quota and rate window, or raise 607/606 without counting."""
        self._today(now, settings)
        if self._daily >= settings.daily_quota:
            raise MarketoError("607", "Daily quota reached")
        _trim(self._counted, now, settings.rate_limit_window)
        if len(self._counted) >= settings.rate_limit_calls:
            raise MarketoError(
                "606",
                f"Max rate limit '{settings.rate_limit_calls}' exceeded with in "
                f"'{settings.rate_limit_window:g}' secs",
            )
        self._counted.append(now)
        self._daily += 1
        self._by_user[user] += 1

    def add_calls(self, now: float, settings: Settings, user: str, calls: int) -> None:
        """Calls another integration made today: they use up the instance's quota too."""
        self._today(now, settings)
        self._daily += calls
        self._by_user[user] += calls

    def daily_calls(self, now: float, settings: Settings) -> int:
        return self._daily if quota_day(now, settings.quota_timezone) == self._day else 0

    def usage(self, now: float, settings: Settings) -> tuple[str, int, dict[str, int]]:
        """Today's quota day, its counted calls, and those calls by API user."""
        self._today(now, settings)
        return self._day, self._daily, dict(self._by_user)

    def _today(self, now: float, settings: Settings) -> None:
        day = quota_day(now, settings.quota_timezone)
        if day != self._day:
            self._day, self._daily = day, 0
            self._by_user.clear()


def quota_day(now: float, timezone: str) -> str:
    """The quota day: the calendar date at ``now`` in the quota's zone (DST-aware)."""
    return datetime.fromtimestamp(now, ZoneInfo(timezone)).date().isoformat()


def _trim(window: deque[float], now: float, span: float) -> None:
    """Drop calls older than the window (and everything if the clock was set back)."""
    if window and window[-1] > now:
        window.clear()
    cutoff = now - span
    while window and window[0] <= cutoff:
        window.popleft()
