"""Cron expressions evaluated in a time zone of their own, with daylight saving time handled.

celery-redbeat stores a ``crontab`` in Redis without its time zone, so the
schedule's fire times are computed here instead, from the expression and an
IANA zone: each wall-clock time fires once a day. A time that does not exist
(02:30 on a spring-forward day) fires at the same instant written in the old
offset (03:30 in the new one); a time that happens twice (01:30 on a
fall-back day) fires at its first occurrence only.

Fields follow cron: minute, hour, day of month, month, day of week (0 or
``sun`` is Sunday). As in cron, a day matches when either the day of month or
the day of week matches if both are restricted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workers.errors import CronError

# Looking this far back or ahead finds every expression that fires at all (29 February).
SEARCH_DAYS = 4 * 366 + 1

_FIELDS = (
    ("minute", "minute", "0-59"),
    ("hour", "hour", "0-23"),
    ("day of month", "day_of_month", "1-31"),
    ("month", "month_of_year", "1-12"),
    ("day of week", "day_of_week", "0-6 or sun-sat"),
)


def zone(name: str) -> ZoneInfo:
    """An IANA time zone by name (``America/Chicago``), or CronError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f'unknown time zone "{name}" (use an IANA name such as UTC)') from None


@dataclass(frozen=True)
class Cron:
    """A parsed five-field cron expression in a time zone."""

    expression: str
    tz: ZoneInfo
    minutes: tuple[int, ...] = field(repr=False)
    hours: tuple[int, ...] = field(repr=False)
    days: frozenset[int] = field(repr=False)
    months: frozenset[int] = field(repr=False)
    weekdays: frozenset[int] = field(repr=False)
    either_day: bool = field(repr=False)  # both day fields restricted: cron ORs them

    @classmethod
    def parse(cls, expression: str, timezone: str) -> Cron:
        from celery.schedules import crontab

        parts = expression.split()
        if len(parts) != 5:
            raise CronError(
                f'bad expression "{expression}" (five fields: minute hour day month weekday)'
            )
        values: dict[str, set[int]] = {}
        for (label, keyword, allowed), part in zip(_FIELDS, parts, strict=True):
            try:
                values[keyword] = set(getattr(crontab(**{keyword: part}), keyword))
            except (ValueError, TypeError) as error:
                reason = str(error).rstrip(".")
                raise CronError(
                    f'bad expression "{expression}" ({label} must be {allowed}: {reason})'
                ) from None
        cron = cls(
            expression=" ".join(parts),
            tz=zone(timezone),
            minutes=tuple(sorted(values["minute"])),
            hours=tuple(sorted(values["hour"])),
            days=frozenset(values["day_of_month"]),
            months=frozenset(values["month_of_year"]),
            weekdays=frozenset(values["day_of_week"]),
            either_day=parts[2] != "*" and parts[4] != "*",
        )
        if cron.next_after(datetime.now(UTC)) is None:
            raise CronError(f'bad expression "{expression}" (it never fires)')
        return cron

    @property
    def timezone(self) -> str:
        return self.tz.key

    @property
    def several_a_day(self) -> bool:
        return len(self.minutes) * len(self.hours) > 1

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.weekday() + 1) % 7 in self.weekdays  # cron: 0 is Sunday
        return (in_month or in_week) if self.either_day else (in_month and in_week)

    def _fires_on(self, day: date) -> Iterator[datetime]:
        """The day's fire instants, in UTC (fold=0: a repeated time fires at its first instance)."""
        if self._day_matches(day):
            for hour in self.hours:
                for minute in self.minutes:
                    local = datetime.combine(day, time(hour, minute), tzinfo=self.tz)
                    yield local.astimezone(UTC)

    def previous(self, now: datetime) -> datetime | None:
        """The latest fire time at or before ``now``, in the zone (None if none in four years)."""
        utc_now = now.astimezone(UTC)
        today = utc_now.astimezone(self.tz).date()
        for back in range(SEARCH_DAYS):
            # A skipped time moves later, never into another day: the first day with
            # a fire at or before now holds the latest one.
            fired = [t for t in self._fires_on(today - timedelta(days=back)) if t <= utc_now]
            if fired:
                return max(fired).astimezone(self.tz)
        return None

    def next_after(self, now: datetime) -> datetime | None:
        """The first fire time after ``now``, in the zone (None if none in four years)."""
        utc_now = now.astimezone(UTC)
        today = utc_now.astimezone(self.tz).date()
        for ahead in range(SEARCH_DAYS):
            coming = [t for t in self._fires_on(today + timedelta(days=ahead)) if t > utc_now]
            if coming:
                return min(coming).astimezone(self.tz)
        return None
