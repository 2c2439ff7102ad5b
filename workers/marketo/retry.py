"""When to repeat a Marketo call, and how long to wait first: pure functions, no I/O.

Full jitter (a uniform draw between 0 and the capped exponential) spreads
many workers that failed together, so they do not come back together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from workers import defaults
from workers.errors import (
    BudgetTimeout,
    DailyQuotaExhausted,
    MarketoError,
    TokenInvalid,
    TooManyImports,
    TransientError,
)

DEFAULT_BACKOFF_BASE_S = 1.0
DEFAULT_BACKOFF_CAP_S = 30.0


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): U(0, min(cap, base * 2**n))."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    ceiling = min(cap, base * 2.0 ** min(attempt, 62))
    return rng.uniform(0.0, ceiling)


class Action(Enum):
    RETRY = "retry"
    REFRESH_TOKEN = "refresh_token"
    RAISE = "raise"


@dataclass(frozen=True)
class RetryPolicy:
    """How many transient failures a call absorbs, and the backoff between them."""

    max_retries: int = defaults.MARKETO_MAX_RETRIES
    base_s: float = DEFAULT_BACKOFF_BASE_S
    cap_s: float = DEFAULT_BACKOFF_CAP_S

    def decide(
        self,
        error: MarketoError,
        *,
        retries: int,
        token_refreshed: bool,
        retry_too_many_imports: bool = False,
    ) -> Action:
        """What to do after ``error``, given the retries and token refreshes already spent.

        601/602: refresh the token once and repeat. 607: raise (the quota is gone
        until midnight in Chicago). 1016: raise unless the caller asked the client
        to absorb it. No budget slot within the budget timeout: raise. Other
        transient errors: retry up to ``max_retries``. Permanent errors: raise at once.
        """
        if isinstance(error, TokenInvalid):
            return Action.RAISE if token_refreshed else Action.REFRESH_TOKEN
        if isinstance(error, DailyQuotaExhausted | BudgetTimeout):
            return Action.RAISE  # waiting longer inside one call cannot help
        if isinstance(error, TooManyImports) and not retry_too_many_imports:
            return Action.RAISE
        if isinstance(error, TransientError) and retries < self.max_retries:
            return Action.RETRY
        return Action.RAISE

    def delay(self, retries: int, rng: random.Random) -> float:
        return backoff_delay(retries, self.base_s, self.cap_s, rng)
