"""``mkto-bulk quota``: our share of Marketo's daily quota, shown or changed for every worker.

The quota set here lives in Redis and is read on every Marketo call, so a raise
takes effect at once, without restarting workers: loads waiting for the reset
resume on their next look (at most QUOTA_RECHECK_S later).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from workers.marketo.budgets import Budgets


def _budgets() -> Budgets:
    from workers.marketo.budgets import BudgetLimits, Budgets
    from workers.redis_clients import redis_client
    from workers.settings import load_settings

    settings = load_settings()
    limits = BudgetLimits(
        daily_quota=settings.marketo_daily_quota,
        daily_quota_reserve=settings.marketo_daily_quota_reserve,
    )
    return Budgets(redis_client(settings), settings.instance, limits)


def _show_lines() -> list[str]:
    from datetime import UTC, datetime

    from workers.marketo import usage
    from workers.marketo.budgets import marketo_day, next_reset
    from workers.pipeline.quota_wait import reset_text

    budgets = _budgets()
    quota, overridden = budgets.daily_quota()
    origin = "set with `mkto-bulk quota set`" if overridden else "MARKETO_DAILY_QUOTA"
    used, share = budgets.daily_count(), budgets.daily_limit()
    reading = usage.load(budgets.redis, budgets.instance, marketo_day(time.time()).isoformat())
    others = (
        f"{reading.others:,} today (Marketo's usage report, read "
        f"{datetime.fromtimestamp(reading.read_at, UTC):%H:%M} UTC)"
        if reading
        else "not read today (beat reads Marketo's usage report every MARKETO_USAGE_CHECK_S)"
    )
    return [
        f"daily quota: {quota:,} ({origin})",
        f"reserve:     {budgets.limits.daily_quota_reserve:,} (MARKETO_DAILY_QUOTA_RESERVE)",
        f"others used: {others}",
        f"our share:   {share:,}; used today {used:,}"
        + ("  (used up: loads wait for the reset)" if used >= share else ""),
        f"resets at:   {reset_text(next_reset(time.time()))}",
    ]


def _run(action: str, quota: int | None = None) -> None:
    import redis

    from workers.errors import SettingsError

    try:
        if action in ("set", "clear"):
            _budgets().set_daily_quota(quota)
        click.echo("\n".join(_show_lines()))
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    except redis.RedisError as error:
        raise click.ClickException(f"cannot reach Redis (REDIS_URL): {error}") from None


@click.group(short_help="Show or change the daily API quota for every worker.")
def quota() -> None:
    """Show or change the instance's daily API quota (our share is it minus the reserve)."""


@quota.command()
def show() -> None:
    """The quota in force, our share, today's use and the next reset."""
    _run("show")


@quota.command(name="set")
@click.argument("daily_quota", type=click.IntRange(min=1))
def set_quota(daily_quota: int) -> None:
    """Use DAILY_QUOTA instead of MARKETO_DAILY_QUOTA, at once, on every worker."""
    _run("set", daily_quota)


@quota.command()
def clear() -> None:
    """Go back to MARKETO_DAILY_QUOTA."""
    _run("clear")
