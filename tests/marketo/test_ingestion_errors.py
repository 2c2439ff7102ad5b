"""Each documented Data Ingestion error answer maps onto the error tree (pure, no I/O)."""

from __future__ import annotations

import pytest

from workers.errors import (
    DailyQuotaExhausted,
    IngestionNotEntitled,
    IngestionRefused,
    MarketoAuthError,
    MarketoError,
    MarketoPermanentError,
    MarketoTransientError,
    PermanentError,
    RateLimited,
    TokenInvalid,
    TransientError,
)
from workers.marketo.ingestion_errors import ingestion_error


@pytest.mark.parametrize(
    ("status", "code", "kind", "transient"),
    [
        (400, "4000801", IngestionRefused, False),
        (400, "4000802", IngestionRefused, False),
        (401, "401013", TokenInvalid, True),
        (403, "403010", MarketoAuthError, False),
        (403, "4030801", IngestionNotEntitled, False),
        (404, "404040", MarketoPermanentError, False),
        (429, "429001", RateLimited, True),
        (429, "4290801", DailyQuotaExhausted, True),
        (500, "5000801", MarketoTransientError, True),
    ],
)
def test_documented_codes_map_to_their_class(
    status: int, code: str, kind: type[MarketoError], transient: bool
) -> None:
    error = ingestion_error(
        status, {"error_code": code, "message": "Bad request"}, "r-1", "POST /x"
    )
    assert type(error) is kind
    assert isinstance(error, TransientError if transient else PermanentError)
    assert (error.code, error.request_id) == (code, "r-1")
    assert error.message.startswith(f"POST /x: Bad request ({code})")


def test_an_answer_without_a_json_error_is_named_by_its_status() -> None:
    assert isinstance(ingestion_error(502, None, None, "POST /persons"), MarketoTransientError)
    error = ingestion_error(418, "teapot", None, "POST /persons")
    assert isinstance(error, MarketoPermanentError)
    assert (error.code, error.message) == ("http-418", "POST /persons: HTTP 418 (http-418)")


def test_not_entitled_says_what_is_missing() -> None:
    error = ingestion_error(
        403, {"error_code": "4030801", "message": "Unauthorized"}, None, "POST /"
    )
    assert "not entitled to the Data Ingestion API" in str(error)


def test_a_hostile_message_is_bounded_and_never_echoes_the_token() -> None:
    body = {"error_code": "4000802", "message": "token tok-123 is " + "x" * 10_000}
    error = ingestion_error(400, body, None, "POST /persons", "tok-123")
    assert "tok-123" not in str(error)
    assert len(error.message) < 700
