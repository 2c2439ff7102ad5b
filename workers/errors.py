"""The one error hierarchy: transient errors are retried, permanent ones fail loudly.

Marketo's codes are mapped to these classes at the HTTP boundary
(``marketo_error``); nothing above the client inspects raw codes. No error
message ever carries a secret: callers pass identifiers, never credentials.
"""

from __future__ import annotations


class MktoBulkError(Exception):
    """Base of every error this system raises on purpose."""


class TransientError(MktoBulkError):
    """Worth retrying later: the same call may succeed."""


class PermanentError(MktoBulkError):
    """Retrying the same call cannot help; a person or the input must change."""


class SettingsError(PermanentError):
    """The environment does not describe a usable configuration."""


class InputError(PermanentError):
    """The user's dataset or request is unusable; says where and why."""

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.source = source
        self.line = line
        self.field = field
        where = ", ".join(
            part
            for part in (
                source,
                f"line {line}" if line is not None else None,
                f"field {field!r}" if field is not None else None,
            )
            if part
        )
        super().__init__(f"{where}: {reason}" if where else reason)


class MarketoError(MktoBulkError):
    """An error reported by Marketo (or its transport), with Marketo's own words."""

    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        suffix = f" (requestId {request_id})" if request_id else ""
        super().__init__(f"Marketo {code}: {message}{suffix}")


class MarketoTransientError(MarketoError, TransientError):
    """Rate limits, busy queues, timeouts, 5xx: back off and repeat."""


class MarketoPermanentError(MarketoError, PermanentError):
    """Marketo refused the request for a reason retrying cannot fix."""


class MarketoAuthError(MarketoPermanentError):
    """The identity endpoint rejected our client credentials."""


class TokenInvalid(MarketoTransientError):
    """601/602: the access token is unknown or expired; refresh once and repeat."""


class DailyQuotaExhausted(MarketoError, TransientError):
    """607, or our own reserve reached: stop calling until the Marketo day resets."""

    def __init__(
        self, code: str, message: str, request_id: str | None = None, *, resets_at: float = 0.0
    ) -> None:
        super().__init__(code, message, request_id)
        self.resets_at = resets_at


class TooManyImports(MarketoTransientError):
    """1016: Marketo's import queue is full (possibly by another integration)."""


# Codes documented as "retry later" in Marketo's error-code reference.
TRANSIENT_CODES = frozenset({"502", "604", "606", "608", "611", "615", "713", "1016", "1029"})
TOKEN_CODES = frozenset({"601", "602"})


def marketo_error(code: str, message: str, request_id: str | None = None) -> MarketoError:
    """Map one of Marketo's error codes to the right class."""
    code = str(code)
    if code in TOKEN_CODES:
        return TokenInvalid(code, message, request_id)
    if code == "607":
        return DailyQuotaExhausted(code, message, request_id)
    if code == "1016":
        return TooManyImports(code, message, request_id)
    if code in TRANSIENT_CODES or (code.isdigit() and 500 <= int(code) < 600):
        return MarketoTransientError(code, message, request_id)
    return MarketoPermanentError(code, message, request_id)
