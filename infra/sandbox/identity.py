"""OAuth client-credentials tokens the way Marketo's identity service hands them out.

The same token comes back until it expires and ``expires_in`` is its remaining
life, so a client that caches badly sees 602 exactly as it would in production.
"""

from __future__ import annotations

import hmac
import math
import uuid
from dataclasses import dataclass


@dataclass
class Token:
    client_id: str
    expires_at: float


class TokenStore:
    """Issued tokens by value; expired ones are kept so they answer 602, not 601."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._current: dict[str, str] = {}
        self.issued = 0

    def issue(self, client_id: str, now: float, ttl: float) -> tuple[str, int]:
        """The client's live token (or a new one) and its remaining whole seconds."""
        value = self._current.get(client_id)
        token = self._tokens.get(value) if value else None
        if value is None or token is None or token.expires_at - now <= 0:
            value = f"{uuid.uuid4()}:sb"
            token = Token(client_id, now + ttl)
            self._tokens[value] = token
            self._current[client_id] = value
            self.issued += 1
        return value, max(0, math.floor(token.expires_at - now))

    def check(self, value: str, now: float) -> str | None:
        """None when valid, else the Marketo code: 601 unknown, 602 expired."""
        token = self._tokens.get(value)
        if token is None:
            return "601"
        if now >= token.expires_at:
            return "602"
        return None

    def owner(self, value: str) -> str | None:
        """The client id a token was issued to (the Data Ingestion API's rate is per client)."""
        token = self._tokens.get(value)
        return token.client_id if token else None

    def expire_all(self, now: float) -> int:
        for token in self._tokens.values():
            token.expires_at = min(token.expires_at, now)
        return len(self._tokens)

    def reset(self) -> None:
        self._tokens.clear()
        self._current.clear()
        self.issued = 0


def credentials_match(given_id: str, given_secret: str, client_id: str, secret: str) -> bool:
    """Constant-time comparison so the sandbox does not model a timing leak."""
    same_id = hmac.compare_digest(given_id.encode(), client_id.encode())
    same_secret = hmac.compare_digest(given_secret.encode(), secret.encode())
    return same_id and same_secret
