"""Backoff and the retry policy: pure functions, no I/O."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.errors import (
    BudgetTimeout,
    DailyQuotaExhausted,
    MarketoAuthError,
    MarketoTransportError,
    marketo_error,
)
from workers.marketo.retry import Action, RetryPolicy, backoff_delay


@given(
    attempt=st.integers(min_value=0, max_value=200),
    base=st.floats(min_value=0.001, max_value=10),
    cap=st.floats(min_value=0.001, max_value=120),
    seed=st.integers(),
)
def test_backoff_stays_between_zero_and_the_capped_exponential(
    attempt: int, base: float, cap: float, seed: int
) -> None:
    delay = backoff_delay(attempt, base, cap, random.Random(seed))
    assert 0.0 <= delay <= min(cap, base * 2.0 ** min(attempt, 62))


def test_backoff_is_full_jitter_and_grows_until_the_cap() -> None:
    rng = random.Random(7)
    means = [
        statistics.mean(backoff_delay(n, 1.0, 30.0, rng) for _ in range(4000)) for n in range(7)
    ]
    # Full jitter: the mean is half the ceiling (1, 2, 4, 8, 16, then capped at 30).
    for mean, ceiling in zip(means, [1, 2, 4, 8, 16, 30, 30], strict=True):
        assert mean == pytest.approx(ceiling / 2, rel=0.06)
    draws = [backoff_delay(3, 1.0, 30.0, rng) for _ in range(2000)]
    assert min(draws) < 0.5 and max(draws) > 7.5  # spread over the whole range


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    first = [backoff_delay(n, 0.5, 8, random.Random(1)) for n in range(5)]
    assert first == [backoff_delay(n, 0.5, 8, random.Random(1)) for n in range(5)]
    with pytest.raises(ValueError):
        backoff_delay(-1, 1, 1, random.Random())


POLICY = RetryPolicy(max_retries=3)


@pytest.mark.parametrize(
    "code", ["502", "604", "606", "608", "611", "615", "713", "1029", "500", "503"]
)
def test_transient_codes_retry_until_the_limit(code: str) -> None:
    error = marketo_error(code, "x")
    assert POLICY.decide(error, retries=0, token_refreshed=False) is Action.RETRY
    assert POLICY.decide(error, retries=2, token_refreshed=False) is Action.RETRY
    assert POLICY.decide(error, retries=3, token_refreshed=False) is Action.RAISE


@pytest.mark.parametrize("code", ["603", "609", "610", "612", "701", "1003", "413", "414"])
def test_permanent_codes_raise_at_once(code: str) -> None:
    assert POLICY.decide(marketo_error(code, "x"), retries=0, token_refreshed=False) is (
        Action.RAISE
    )


def test_token_errors_refresh_once() -> None:
    for code in ("601", "602"):
        error = marketo_error(code, "x")
        assert POLICY.decide(error, retries=0, token_refreshed=False) is Action.REFRESH_TOKEN
        assert POLICY.decide(error, retries=0, token_refreshed=True) is Action.RAISE


def test_quota_imports_and_budget_timeouts() -> None:
    quota = marketo_error("607", "Daily quota reached")
    assert isinstance(quota, DailyQuotaExhausted)
    assert POLICY.decide(quota, retries=0, token_refreshed=False) is Action.RAISE
    imports = marketo_error("1016", "Too many imports")
    assert POLICY.decide(imports, retries=0, token_refreshed=False) is Action.RAISE
    assert (
        POLICY.decide(imports, retries=0, token_refreshed=False, retry_too_many_imports=True)
        is Action.RETRY
    )
    waited = BudgetTimeout("budget", "no slot")
    assert POLICY.decide(waited, retries=0, token_refreshed=False) is Action.RAISE
    timeout = MarketoTransportError("timeout", "read timed out")
    assert POLICY.decide(timeout, retries=0, token_refreshed=False) is Action.RETRY
    denied = MarketoAuthError("401", "bad client id")
    assert POLICY.decide(denied, retries=0, token_refreshed=False) is Action.RAISE
