"""The Data Ingestion API's answers mapped onto the error tree, at the boundary (pure).

Its errors are ``{"error_code", "message"}`` bodies with the documented codes
(data-ingestion.md): the Adobe gateway's (401013, 403010, 404040, 429001) and
the API's own (4000801, 4000802, 4030801, 4290801, 5000801).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workers.errors import (
    DailyQuotaExhausted,
    IngestionNotEntitled,
    IngestionRefused,
    MarketoAuthError,
    MarketoError,
    MarketoPermanentError,
    MarketoTransientError,
    RateLimited,
    TokenInvalid,
    bounded,
)
from workers.marketo.auth import scrub

MESSAGE_MAX = 500  # Marketo's message, as kept in errors and failure files


def ingestion_error(
    status: int, body: Any, request_id: str | None, what: str, *secrets: str
) -> MarketoError:
    """Map a non-202 answer (``{"error_code", "message"}``) to the error tree.

    The message is Marketo's, bounded, with any of ``secrets`` (the token sent) taken out.
    """
    code, message = f"http-{status}", f"HTTP {status}"
    if isinstance(body, Mapping) and body.get("error_code") is not None:
        code = bounded(scrub(str(body["error_code"]), *secrets), 32)
        message = bounded(scrub(str(body.get("message") or message), *secrets), MESSAGE_MAX)
    text = f"{what}: {message} ({code})"
    if code == "401013":
        return TokenInvalid(code, text, request_id)
    if code == "403010":
        return MarketoAuthError(code, text, request_id)
    if code == "4030801":
        return IngestionNotEntitled(
            code, f"{text}: the instance is not entitled to the Data Ingestion API", request_id
        )
    if code == "4290801":
        return DailyQuotaExhausted(code, text, request_id)
    if code == "429001" or status == 429:
        return RateLimited(code, text, request_id)
    if status >= 500:
        return MarketoTransientError(code, text, request_id)
    if status == 400:
        return IngestionRefused(code, text, request_id)
    return MarketoPermanentError(code, text, request_id)
