"""The call loop every Marketo request goes through.

Token from the shared cache, a slot from the shared budgets, one HTTP request,
the answer mapped to a result or an error, then the retry policy decides.
Each call is logged once, when it ends, with Marketo's code and requestId,
its duration and how many retries it took (never a token or the secret).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import redis
import requests

from workers.errors import (
    DailyQuotaExhausted,
    MarketoError,
    MarketoTransportError,
    RateLimited,
)
from workers.marketo import metrics as m
from workers.marketo.auth import TokenProvider
from workers.marketo.budgets import Budgets, next_reset
from workers.marketo.config import ClientConfig
from workers.marketo.metrics import Metrics
from workers.marketo.retry import Action
from workers.marketo.transport import BearerAuth, Envelope, Transport, parse_envelope

logger = logging.getLogger(__name__)
T = TypeVar("T")
Send = Callable[[str], requests.Response]


class MarketoCore:
    """Shared state (transport, budgets, token cache, counters) and the call loop."""

    def __init__(
        self,
        config: ClientConfig,
        redis_client: redis.Redis,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        server_time: bool = True,
    ) -> None:
        self.config = config
        self.redis = redis_client
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.transport = Transport(
            connect_timeout_s=config.connect_timeout_s,
            read_timeout_s=config.read_timeout_s,
            user_agent=config.user_agent,
        )
        self.metrics = Metrics(redis_client, config.instance)
        self.budgets = Budgets(
            redis_client,
            config.instance,
            config.limits,
            clock=clock,
            sleep=sleep,
            rng=self.rng,
            server_time=server_time,
        )
        self.auth = TokenProvider(
            redis_client,
            self.transport,
            self.budgets,
            self.metrics,
            identity_url=config.identity_url,
            client_id=config.client_id,
            client_secret=config.client_secret,
            clock=clock,
            sleep=sleep,
            refresh_margin_s=config.token_refresh_margin_s,
        )

    # Visibility ---------------------------------------------------------
    def daily_calls(self) -> int:
        """Calls counted in the current Marketo day, across all workers."""
        return self.budgets.daily_count()

    def counters(self) -> dict[str, int]:
        """Calls, attempts, retries, error codes (``code:606``) and the day's count."""
        return {**self.metrics.snapshot(), "daily_calls": self.daily_calls()}

    # Calls --------------------------------------------------------------
    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        retry_too_many_imports: bool = True,
    ) -> Envelope:
        """One REST or bulk call whose answer is Marketo's JSON envelope."""

        def send(token: str) -> requests.Response:
            return self._send(method, path, token, params=params)

        return self.execute(
            method,
            path,
            send,
            lambda response: parse_envelope(response, path),
            retry_too_many_imports=retry_too_many_imports,
        )

    def _send(
        self,
        method: str,
        path: str,
        token: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        all_headers = {"Accept": "application/json", **(headers or {})}
        return self.transport.request(
            method,
            self.config.rest_url + path,
            path=path,
            headers=all_headers,
            auth=BearerAuth(token),
            params=params,
            data=data,
            stream=stream,
        )

    def execute(
        self,
        method: str,
        path: str,
        send: Send,
        handle: Callable[[requests.Response], T],
        *,
        is_create: bool = False,
        retry_too_many_imports: bool = True,
        retry_maybe_sent: bool = True,
    ) -> T:
        """Run one logical call: token, budget slot, request, answer; retries per the policy.

        ``retry_maybe_sent=False`` raises a transport error that Marketo may have
        acted on instead of repeating the call, for callers that account for it.
        """
        started = time.monotonic()
        retries = 0
        refreshed = False
        while True:
            token: str | None = None
            try:
                token = self.auth.token()
                result = self._attempt(send, handle, token)
            except MarketoError as error:
                self._observe(error)
                action = self.config.retry.decide(
                    error,
                    retries=retries,
                    token_refreshed=refreshed,
                    retry_too_many_imports=retry_too_many_imports,
                )
                if action is Action.REFRESH_TOKEN:
                    refreshed = True
                    if token is not None:
                        self.auth.invalidate(token)
                    self.metrics.incr(m.TOKEN_REFRESHES)
                    continue
                unsure = isinstance(error, MarketoTransportError) and error.maybe_sent
                if action is Action.RAISE or (unsure and not retry_maybe_sent):
                    self.metrics.add({m.CALLS: 1, m.FAILURES: 1, m.RETRIES: retries})
                    self._log(
                        method, path, error.code, error.request_id, started, retries, error.message
                    )
                    raise
                self._before_retry(error, method, path, retries, is_create)
                retries += 1
                continue
            except Exception as error:  # not Marketo's answer (Redis down, source stream): log it
                self.metrics.add({m.CALLS: 1, m.FAILURES: 1, m.RETRIES: retries})
                self._log(method, path, type(error).__name__, None, started, retries, "failed")
                raise
            self.metrics.add({m.CALLS: 1, m.RETRIES: retries})
            self._log(method, path, "ok", _request_id(result), started, retries, None)
            return result

    def _attempt(self, send: Send, handle: Callable[[requests.Response], T], token: str) -> T:
        permit = self.budgets.acquire(timeout_s=self.config.budget_timeout_s)
        began = time.monotonic()
        try:
            self.metrics.incr(m.ATTEMPTS)
            response = send(token)
            try:
                return handle(response)
            finally:
                response.close()
        finally:
            if not self.budgets.release(permit):
                self.metrics.incr(m.LEASE_OVERRUNS)
                logger.warning(
                    "marketo call outlived its %.0fs lease (%.1fs): raise MARKETO_CALL_LEASE_S",
                    self.config.limits.call_lease_s,
                    time.monotonic() - began,
                )

    def _observe(self, error: MarketoError) -> None:
        """What every worker must learn from an error, whether or not this call retries."""
        self.metrics.code(error.code)
        if isinstance(error, RateLimited):
            window = self.config.limits.rate_limit_window_s
            self.budgets.hold_off(self.config.holdoff_606_s or window)
            self.metrics.incr(m.HOLDOFFS)
        if isinstance(error, DailyQuotaExhausted) and error.code == "607":
            self.budgets.mark_daily_exhausted()
            error.resets_at = next_reset(self.clock())

    def _before_retry(
        self, error: MarketoError, method: str, path: str, retries: int, is_create: bool
    ) -> None:
        if is_create and isinstance(error, MarketoTransportError) and error.maybe_sent:
            # The job may exist already; the retry may create a second one (an upsert).
            self.metrics.incr(m.POSSIBLE_DOUBLE_SUBMITS)
        delay = self.config.retry.delay(retries, self.rng)
        logger.debug(
            "marketo %s %s code=%s requestId=%s: retry %d in %.2fs",
            method,
            path,
            error.code,
            error.request_id,
            retries + 1,
            delay,
        )
        self.sleep(delay)

    def _log(
        self,
        method: str,
        path: str,
        code: str,
        request_id: str | None,
        started: float,
        retries: int,
        error: str | None,
    ) -> None:
        duration_ms = int((time.monotonic() - started) * 1000)
        fields = {
            "method": method,
            "path": path,
            "code": code,
            "request_id": request_id,
            "duration_ms": duration_ms,
            "retries": retries,
        }
        level = logging.INFO if error is None else logging.WARNING
        logger.log(
            level,
            "marketo %s %s code=%s requestId=%s duration_ms=%d retries=%d%s",
            method,
            path,
            code,
            request_id or "-",
            duration_ms,
            retries,
            f" error={error!r}" if error is not None else "",
            extra={"marketo": fields},
        )

    def close(self) -> None:
        self.transport.close()


def _request_id(result: object) -> str | None:
    value = getattr(result, "request_id", None)
    return str(value) if value is not None else None
