"""Each default is named once: a Settings default equals the library default it feeds."""

from __future__ import annotations

import dataclasses

import pytest

from workers.marketo.budgets import BudgetLimits
from workers.marketo.config import ClientConfig
from workers.marketo.retry import RetryPolicy
from workers.settings import Settings
from workers.split.run import SplitOptions

# Settings field -> (the dataclass it is passed to, that dataclass's field).
FEEDS: dict[str, tuple[type, str]] = {
    "marketo_rate_limit_calls": (BudgetLimits, "rate_limit_calls"),
    "marketo_rate_limit_window_s": (BudgetLimits, "rate_limit_window_s"),
    "marketo_max_concurrent_calls": (BudgetLimits, "max_concurrent_calls"),
    "marketo_call_lease_s": (BudgetLimits, "call_lease_s"),
    "marketo_daily_quota": (BudgetLimits, "daily_quota"),
    "marketo_daily_quota_reserve": (BudgetLimits, "daily_quota_reserve"),
    "marketo_connect_timeout_s": (ClientConfig, "connect_timeout_s"),
    "marketo_read_timeout_s": (ClientConfig, "read_timeout_s"),
    "marketo_max_retries": (RetryPolicy, "max_retries"),
    "marketo_describe_ttl_s": (ClientConfig, "describe_ttl_s"),
    "chunk_byte_limit": (SplitOptions, "limit"),
    "reject_threshold": (SplitOptions, "reject_threshold"),
    "split_max_expansion_ratio": (SplitOptions, "max_expansion_ratio"),
    "split_max_source_bytes": (SplitOptions, "max_source_bytes"),
}


def _default(cls: type, name: str) -> object:
    (found,) = [item for item in dataclasses.fields(cls) if item.name == name]
    assert found.default is not dataclasses.MISSING, f"{cls.__name__}.{name} has no default"
    return found.default


@pytest.mark.parametrize("setting", sorted(FEEDS))
def test_a_settings_default_equals_the_library_default_it_feeds(setting: str) -> None:
    cls, name = FEEDS[setting]
    assert Settings.model_fields[setting].default == _default(cls, name), (
        f"{setting.upper()} defaults to {Settings.model_fields[setting].default!r}, "
        f"{cls.__name__}.{name} to {_default(cls, name)!r}"
    )


def test_the_library_call_lease_outlives_the_library_call() -> None:
    # The rule Settings enforces on MARKETO_CALL_LEASE_S holds for the bare dataclasses too.
    longest_call = _default(ClientConfig, "connect_timeout_s") + _default(  # type: ignore[operator]
        ClientConfig, "read_timeout_s"
    )
    assert BudgetLimits().call_lease_s == 180.0
    assert BudgetLimits().call_lease_s > longest_call
