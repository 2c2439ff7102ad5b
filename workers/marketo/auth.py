"""OAuth client-credentials tokens, cached in Redis and shared by every worker.

One token per client id: Marketo hands out the same token until it expires,
and each identity call is wasted work, so workers share the cached token and
only the holder of a short Redis lock refreshes it. ``expires_in`` is the
token's *remaining* life, so we store the absolute expiry and refresh a margin
ahead of it. Neither the secret nor a token is ever logged or put in an error.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
import requests
from pydantic import SecretStr

from workers.errors import MarketoAuthError, MarketoTransportError
from workers.marketo import metrics as m
from workers.marketo.budgets import Budgets
from workers.marketo.metrics import Metrics
from workers.marketo.transport import Transport, http_error
from workers.state import keys as redis_keys
from workers.state import scripts
from workers.state.lease import Lease
from workers.state.redis_text import text

logger = logging.getLogger(__name__)

DEFAULT_REFRESH_MARGIN_S = 60.0
IDENTITY_READ_TIMEOUT_S = 30.0
DENIAL_MEMORY_S = 5.0  # workers waiting on a refresh that was refused fail with its reason
WAIT_POLL_S = 0.05


@dataclass(frozen=True)
class CachedToken:
    token: str
    expires_at: float
    refresh_at: float

    def __repr__(self) -> str:  # a token must never reach a log through a repr
        return f"CachedToken(expires_at={self.expires_at}, refresh_at={self.refresh_at})"


def scrub(text: str, *secrets: str) -> str:
    """Remove any of ``secrets`` from text we did not write ourselves."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class TokenProvider:
    """Hands out a valid access token for one client id; refreshes it at most once at a time."""

    def __init__(
        self,
        redis_client: redis.Redis,
        transport: Transport,
        budgets: Budgets,
        metrics: Metrics,
        *,
        identity_url: str,
        client_id: str,
        client_secret: SecretStr,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        lock_ttl_s: float = 45.0,
    ) -> None:
        self.redis = redis_client
        self.transport = transport
        self.budgets = budgets
        self.metrics = metrics
        self.identity_url = identity_url.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self.clock = clock
        self.sleep = sleep
        self.refresh_margin_s = refresh_margin_s
        self.lock_ttl_s = lock_ttl_s
        self.key = redis_keys.token(client_id)
        # Deletes the cached token only if it is still the one that failed.
        self._forget = scripts.register(redis_client, "workers.marketo", "forget_token")

    def token(self) -> str:
        """A token that is not due for refresh; fetches one if needed (one worker at a time)."""
        deadline = time.monotonic() + self.lock_ttl_s + 5.0
        while True:
            cached = self._read()
            if cached is not None and self.clock() < cached.refresh_at:
                return cached.token
            self._raise_if_denied()
            lock = Lease(self.redis, redis_keys.token_lock(self.client_id), self.lock_ttl_s)
            if lock.acquire():
                try:
                    cached = self._read()  # another worker may have refreshed just now
                    if cached is not None and self.clock() < cached.refresh_at:
                        return cached.token
                    return self._fetch().token
                finally:
                    lock.release()
            if cached is not None and self.clock() < cached.expires_at:
                return cached.token  # someone is refreshing; ours is still good meanwhile
            if time.monotonic() > deadline:
                raise MarketoTransportError(
                    "token", f"timed out waiting for the access token of client id {self.client_id}"
                )
            self.sleep(WAIT_POLL_S)

    def invalidate(self, token: str) -> None:
        """After 601/602: drop the cached token, unless another worker already replaced it."""
        self._forget(keys=[self.key], args=[token])

    def cached(self) -> CachedToken | None:
        return self._read()

    def _read(self) -> CachedToken | None:
        raw = self.redis.get(self.key)
        if raw is None:
            return None
        data = json.loads(raw)
        return CachedToken(str(data["token"]), float(data["expires_at"]), float(data["refresh_at"]))

    def _raise_if_denied(self) -> None:
        denied = self.redis.get(redis_keys.token_denied(self.client_id))
        if denied is not None:
            raise MarketoAuthError("401", text(denied))

    def _fetch(self) -> CachedToken:
        path = "/identity/oauth/token"
        started = time.monotonic()
        permit = self.budgets.acquire(count_daily=False)  # identity calls are not in the quota
        try:
            # The secret goes in the form body: a query string ends up in access logs.
            response = self.transport.request(
                "POST",
                self.identity_url + "/oauth/token",
                path=path,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self._secret.get_secret_value(),
                },
                timeout=(self.transport.timeout[0], IDENTITY_READ_TIMEOUT_S),
            )
            body = _json_or_none(response)
        finally:
            self.budgets.release(permit)
        status = response.status_code
        duration_ms = int((time.monotonic() - started) * 1000)
        if status in (400, 401, 403):
            reason = ""
            if isinstance(body, dict):
                reason = str(body.get("error_description") or body.get("error") or "")
            reason = scrub(reason, self._secret.get_secret_value())
            message = (
                f"the identity endpoint rejected the credentials of client id {self.client_id!r}"
                + (f": {reason}" if reason else "")
            )
            self.redis.set(
                redis_keys.token_denied(self.client_id), message, px=int(DENIAL_MEMORY_S * 1000)
            )
            self.metrics.code(str(status))
            logger.error("marketo POST %s code=%s duration_ms=%d", path, status, duration_ms)
            raise MarketoAuthError(str(status), message)
        error = http_error(response, path)
        if error is not None:
            raise error
        if not isinstance(body, dict) or not body.get("access_token"):
            raise MarketoTransportError("invalid-response", f"POST {path}: no access_token")
        token = str(body["access_token"])
        expires_in = max(0.0, float(body.get("expires_in", 0)))
        now = self.clock()
        expires_at = now + expires_in
        # Marketo returns the same token until it expires: refreshing within the margin
        # would only fetch it again, so a short-lived one is used until it expires.
        ahead = expires_in - self.refresh_margin_s
        refresh_at = now + ahead if ahead > 0 else expires_at
        cached = CachedToken(token, expires_at, refresh_at)
        payload = {"token": token, "expires_at": expires_at, "refresh_at": refresh_at}
        self.redis.set(self.key, json.dumps(payload), px=max(1, int(expires_in * 1000)))
        self.metrics.incr(m.TOKENS_FETCHED)
        logger.info(
            "marketo POST %s code=200 duration_ms=%d token for client id %s expires in %ds",
            path,
            duration_ms,
            self.client_id,
            int(expires_in),
        )
        return cached


def _json_or_none(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None
