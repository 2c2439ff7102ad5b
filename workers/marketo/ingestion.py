"""Marketo's Data Ingestion API: one POST of up to 1,000 objects, within the shared limits.

The API answers 202 with an empty body and an ``X-Request-Id``; what then
happens to each object is reported only through Marketo's Observability Data
Stream, so what this client can know is "accepted" (with the request id to
look it up) or the request's error. Errors are mapped here, at the boundary,
onto the one error tree: a 400 fails the request's objects
(:class:`IngestionRefused`), a 403 ``4030801`` means the instance is not
entitled, 429 ``429001`` and 5xx are retried with backoff and jitter (an
upsert: repeating it is safe), 429 ``4290801`` waits for the day to reset.

The token is the REST API's (same OAuth identity, same shared cache), sent
only in ``X-Mkto-User-Token``; it never appears in a log or an error.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workers.errors import (
    DailyQuotaExhausted,
    MarketoError,
    MarketoTransportError,
    RateLimited,
    SettingsError,
)
from workers.marketo import metrics as m
from workers.marketo.auth import TokenProvider
from workers.marketo.budgets import next_reset
from workers.marketo.ingestion_budgets import IngestionBudgets
from workers.marketo.ingestion_errors import ingestion_error
from workers.marketo.metrics import Metrics
from workers.marketo.retry import Action, RetryPolicy
from workers.marketo.transport import Transport

if TYPE_CHECKING:
    from workers.marketo.core import MarketoCore

logger = logging.getLogger(__name__)

# Marketo's limits for one request (data-ingestion.md); not settings.
MAX_OBJECTS = 1_000
MAX_BODY_BYTES = 1_000_000
CORRELATION_ID_MAX = 255
REQUEST_SOURCE_MAX = 50
REQUEST_SOURCE = "mkto-bulk"
HOLDOFF_429_S = 1.0  # one rate window: every worker of the client id pauses after a 429001


@dataclass(frozen=True)
class IngestionRequest:
    """One request: its path below ``/subscriptions/{munchkinId}``, its JSON body, its objects."""

    path: str  # e.g. "/persons", "/customobjects/car_c", "/lists/remove"
    body: bytes
    objects: int

    @classmethod
    def of(cls, path: str, body: Mapping[str, Any], objects: int) -> IngestionRequest:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(path, data, objects)


OBJECTS = "\u0000objects\u0000"  # where a shape's template holds the array of objects


@dataclass(frozen=True)
class IngestionShape:
    """Where and how one object type is sent: the path and the body around the objects.

    ``template`` is the body with :data:`OBJECTS` where the array goes, e.g.
    ``{"priority": "normal", "customObjects": OBJECTS}``. ``required`` names the
    keys every object must carry: Marketo refuses a whole request in which one
    object lacks them, so a row without one fails alone, before anything is sent.
    """

    path: str
    template: Mapping[str, Any]
    required: tuple[str, ...] = ()

    def wrap(self) -> tuple[bytes, bytes]:
        """The body's bytes before and after the objects' array (brackets included)."""
        text = json.dumps(self.template, ensure_ascii=False, separators=(",", ":"))
        marker = json.dumps(OBJECTS)
        if text.count(marker) != 1:
            raise ValueError(f"{self.path}: a shape's template holds the objects exactly once")
        before, after = text.split(marker)
        return (before + "[").encode("utf-8"), ("]" + after).encode("utf-8")


@dataclass(frozen=True)
class Accepted:
    """Marketo took the request (202): the id to look its outcome up by, and how it went."""

    request_id: str | None
    objects: int
    retries: int
    maybe_repeated: bool  # sent again after an attempt that may have reached Marketo


class IngestionClient:
    """POSTs requests to ``{base_url}/subscriptions/{munchkin_id}{path}``."""

    def __init__(
        self,
        *,
        base_url: str,
        munchkin_id: str,
        tokens: TokenProvider,
        transport: Transport,
        budgets: IngestionBudgets,
        metrics: Metrics,
        retry: RetryPolicy | None = None,
        budget_timeout_s: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base = base_url.rstrip("/") + f"/subscriptions/{munchkin_id}"
        self.tokens = tokens
        self.transport = transport
        self.budgets = budgets
        self.metrics = metrics
        self.retry = retry or RetryPolicy()
        self.budget_timeout_s = budget_timeout_s
        self.sleep = sleep
        self.rng = rng or random.Random()

    def send(
        self,
        request: IngestionRequest,
        *,
        correlation_id: str | None = None,
        retry_maybe_sent: bool = True,
    ) -> Accepted:
        """Send one request until Marketo accepts it or an error the policy does not retry.

        ``retry_maybe_sent=False`` raises a transport error after which Marketo may
        have taken the request, for callers that repeat it themselves and count that.
        """
        if request.objects > MAX_OBJECTS or len(request.body) > MAX_BODY_BYTES:
            raise ValueError(
                f"{request.path}: {request.objects:,} objects in {len(request.body):,} bytes "
                f"(a request holds at most {MAX_OBJECTS:,} objects and {MAX_BODY_BYTES:,} bytes)"
            )
        started = time.monotonic()
        retries, refreshed, repeated = 0, False, False
        headers = {"Content-Type": "application/json", "X-Request-Source": REQUEST_SOURCE}
        if correlation_id:
            headers["X-Correlation-Id"] = correlation_id[:CORRELATION_ID_MAX]
        while True:
            token: str | None = None
            try:
                self.budgets.acquire(request.objects, timeout_s=self.budget_timeout_s)
                token = self.tokens.token()
                self.metrics.incr(m.ATTEMPTS)
                request_id = self._post(request, {**headers, "X-Mkto-User-Token": token}, token)
            except MarketoError as error:
                action = self._after(error, request, retries, refreshed)
                if action is Action.REFRESH_TOKEN:
                    refreshed = True
                    if token is not None:
                        self.tokens.invalidate(token)
                    self.metrics.incr(m.TOKEN_REFRESHES)
                    continue
                unsure = isinstance(error, MarketoTransportError) and error.maybe_sent
                if action is Action.RAISE or (unsure and not retry_maybe_sent):
                    self.metrics.add({m.CALLS: 1, m.FAILURES: 1, m.RETRIES: retries})
                    self._log(request, error.code, error.request_id, started, retries, error)
                    raise
                if isinstance(error, MarketoTransportError) and error.maybe_sent:
                    repeated = True  # an upsert: the repeat is safe, and counted
                    self.metrics.incr(m.POSSIBLE_DOUBLE_SUBMITS)
                self.sleep(self.retry.delay(retries, self.rng))
                retries += 1
                continue
            self.metrics.add({m.CALLS: 1, m.RETRIES: retries})
            self._log(request, "202", request_id, started, retries, None)
            return Accepted(request_id, request.objects, retries, repeated)

    def _post(self, request: IngestionRequest, headers: dict[str, str], token: str) -> str | None:
        what = f"POST {request.path}"
        response = self.transport.request(
            "POST", self.base + request.path, path=request.path, headers=headers, data=request.body
        )
        try:
            request_id = response.headers.get("X-Request-Id")
            if response.status_code == 202:
                return request_id
            if 200 <= response.status_code < 300:
                # Not the documented answer (202, empty): it may or may not have been taken.
                raise MarketoTransportError(
                    "invalid-response", f"{what}: HTTP {response.status_code}, not 202", request_id
                )
            try:
                body = response.json()
            except ValueError:
                body = None
            raise ingestion_error(response.status_code, body, request_id, what, token)
        finally:
            response.close()

    def _after(
        self, error: MarketoError, request: IngestionRequest, retries: int, refreshed: bool
    ) -> Action:
        """What every worker learns from ``error``, then whether this request retries."""
        self.metrics.code(error.code)
        if isinstance(error, MarketoTransportError) and not error.maybe_sent:
            self.budgets.refund(request.objects)  # it never left: the day's share is intact
        if isinstance(error, RateLimited):
            self.budgets.hold_off(HOLDOFF_429_S)
        if isinstance(error, DailyQuotaExhausted) and error.code == "4290801":
            self.budgets.mark_daily_exhausted()
            error.resets_at = next_reset(self.budgets.clock())
        return self.retry.decide(error, retries=retries, token_refreshed=refreshed)

    def _log(
        self,
        request: IngestionRequest,
        code: str,
        request_id: str | None,
        started: float,
        retries: int,
        error: MarketoError | None,
    ) -> None:
        fields = {
            "path": request.path,
            "objects": request.objects,
            "code": code,
            "request_id": request_id,
            "duration_ms": int((time.monotonic() - started) * 1000),
            "retries": retries,
        }
        logger.log(
            logging.INFO if error is None else logging.WARNING,
            "ingestion POST %s objects=%d code=%s requestId=%s retries=%d%s",
            request.path,
            request.objects,
            code,
            request_id or "-",
            retries,
            f" error={error.message!r}" if error is not None else "",
            extra={"ingestion": fields},
        )


def ingestion_client(marketo: MarketoCore) -> IngestionClient:
    """The process's ingestion client, sharing the REST client's token cache and session."""
    config = marketo.config
    if config.munchkin_id is None:
        raise SettingsError(
            "invalid settings: MARKETO_MUNCHKIN_ID is required for the Data Ingestion API "
            "(the REST host does not name it)"
        )
    budgets = IngestionBudgets(
        marketo.redis,
        instance=config.instance,
        client_id=config.client_id,
        limits=config.ingestion_limits,
        clock=marketo.clock,
        sleep=marketo.sleep,
        rng=marketo.rng,
        server_time=marketo.budgets.server_time,
    )
    return IngestionClient(
        base_url=config.ingestion_url,
        munchkin_id=config.munchkin_id,
        tokens=marketo.auth,
        transport=marketo.transport,
        budgets=budgets,
        metrics=marketo.metrics,
        retry=config.retry,
        budget_timeout_s=config.budget_timeout_s,
        sleep=marketo.sleep,
        rng=marketo.rng,
    )
