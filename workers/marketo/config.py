"""The client's parameters: from Settings in workers, or built directly (tiny budgets in tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import SecretStr

from workers import defaults
from workers.errors import SettingsError
from workers.marketo.auth import DEFAULT_REFRESH_MARGIN_S
from workers.marketo.budgets import BudgetLimits
from workers.marketo.ingestion_budgets import IngestionLimits
from workers.marketo.retry import RetryPolicy
from workers.marketo.transport import DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_READ_TIMEOUT_S, USER_AGENT

if TYPE_CHECKING:
    from workers.settings import Settings

LOOKUP_TTL_S = 3600  # static lists, partitions, programs, channels: an hour


@dataclass(frozen=True)
class ClientConfig:
    """Everything the client needs; built from Settings, or directly (tests, tools)."""

    rest_url: str
    identity_url: str
    client_id: str
    client_secret: SecretStr
    instance: str
    limits: BudgetLimits = field(default_factory=BudgetLimits)
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    describe_ttl_s: int = defaults.MARKETO_DESCRIBE_TTL_S
    lookup_ttl_s: int = LOOKUP_TTL_S
    token_refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S
    holdoff_606_s: float | None = None  # None: one rate window
    budget_timeout_s: float = 300.0
    user_agent: str = USER_AGENT
    # The Data Ingestion API (a load or queue with "api": "ingestion").
    ingestion_url: str = defaults.MARKETO_INGESTION_URL
    munchkin_id: str | None = None  # None: the Data Ingestion API cannot be used
    ingestion_limits: IngestionLimits = field(default_factory=IngestionLimits)

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientConfig:
        if settings.marketo_client_secret is None:
            raise SettingsError("invalid settings: MARKETO_CLIENT_SECRET is required but not set")
        return cls(
            rest_url=settings.rest_url,
            identity_url=settings.identity_url,
            client_id=settings.marketo_client_id,
            client_secret=settings.marketo_client_secret,
            instance=settings.instance,
            limits=BudgetLimits(
                rate_limit_calls=settings.marketo_rate_limit_calls,
                rate_limit_window_s=settings.marketo_rate_limit_window_s,
                max_concurrent_calls=settings.marketo_max_concurrent_calls,
                call_lease_s=settings.marketo_call_lease_s,
                daily_quota=settings.marketo_daily_quota,
                daily_quota_reserve=settings.marketo_daily_quota_reserve,
            ),
            connect_timeout_s=settings.marketo_connect_timeout_s,
            read_timeout_s=settings.marketo_read_timeout_s,
            retry=RetryPolicy(max_retries=settings.marketo_max_retries),
            describe_ttl_s=settings.marketo_describe_ttl_s,
            ingestion_url=str(settings.marketo_ingestion_url).rstrip("/"),
            munchkin_id=settings.munchkin_id,
            ingestion_limits=IngestionLimits(
                requests_per_s=settings.marketo_ingestion_requests_per_s,
                daily_objects=settings.marketo_ingestion_daily_objects,
            ),
        )
