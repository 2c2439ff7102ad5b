"""Marketo's envelope and HTTP answers mapped to the error hierarchy, without a network."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
import requests

from workers.errors import (
    DailyQuotaExhausted,
    MarketoError,
    MarketoPermanentError,
    MarketoTransientError,
    MarketoTransportError,
    PermanentError,
    RateLimited,
    TokenInvalid,
    TooManyImports,
    TransientError,
    marketo_error,
)
from workers.marketo.transport import envelope_from_body, http_error, parse_envelope


def response(status: int, body: Any, content_type: str = "application/json") -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer.headers["Content-Type"] = content_type
    answer.reason = "Some Reason Phrase"
    answer.request = requests.Request("GET", "http://mkto.test/rest/v1/x.json").prepare()
    return answer


def failure(code: str, message: str = "boom", request_id: str = "e42b#1") -> dict[str, Any]:
    return {
        "requestId": request_id,
        "success": False,
        "errors": [{"code": code, "message": message}],
    }


def test_success_envelope_gives_result_and_request_id() -> None:
    body = {"requestId": "a#1", "success": True, "result": [{"batchId": 1}]}
    envelope = parse_envelope(response(200, body), "/p")
    assert envelope.request_id == "a#1"
    assert envelope.result == [{"batchId": 1}]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("601", TokenInvalid),
        ("602", TokenInvalid),
        ("606", RateLimited),
        ("607", DailyQuotaExhausted),
        ("1016", TooManyImports),
        ("604", MarketoTransientError),
        ("615", MarketoTransientError),
        ("713", MarketoTransientError),
        ("603", MarketoPermanentError),
        ("610", MarketoPermanentError),
        ("1003", MarketoPermanentError),
    ],
)
def test_http_200_with_success_false_is_mapped_by_code(code: str, kind: type) -> None:
    with pytest.raises(kind) as raised:
        parse_envelope(response(200, failure(code, "Marketo says so")), "/rest/v1/x.json")
    error = raised.value
    assert isinstance(error, MarketoError)
    assert error.code == code
    assert error.request_id == "e42b#1"
    assert "Marketo says so" in error.message and "/rest/v1/x.json" in error.message
    assert "Some Reason Phrase" not in str(error)


def test_several_errors_keep_the_first_and_say_how_many_more() -> None:
    body = failure("1003", "first")
    body["errors"].append({"code": "1006", "message": "second"})
    with pytest.raises(MarketoPermanentError, match=r"first \(\+1 more\)"):
        envelope_from_body(body, "/p")


def test_a_missing_success_flag_is_not_a_success() -> None:
    with pytest.raises(MarketoError):
        envelope_from_body({"requestId": "x"}, "/p")
    with pytest.raises(MarketoTransportError):
        envelope_from_body(["not", "an", "object"], "/p")


@pytest.mark.parametrize(
    ("status", "kind", "transient"),
    [
        (413, MarketoPermanentError, False),
        (414, MarketoPermanentError, False),
        (500, MarketoTransportError, True),
        (502, MarketoTransportError, True),
        (503, MarketoTransportError, True),
        (504, MarketoTransportError, True),
        (404, MarketoPermanentError, False),
    ],
)
def test_http_level_errors(status: int, kind: type, transient: bool) -> None:
    html = b"<html><title>Gateway</title></html>"
    error = http_error(response(status, html, "text/html"), "/bulk/v1/leads.json")
    assert isinstance(error, kind)
    assert isinstance(error, TransientError) is transient
    assert isinstance(error, PermanentError) is not transient
    assert error is not None and error.code == str(status)
    with pytest.raises(kind):
        parse_envelope(response(status, html, "text/html"), "/bulk/v1/leads.json")


def test_an_http_error_with_a_marketo_body_uses_marketo_s_code() -> None:
    error = http_error(response(503, failure("615")), "/p")
    assert error is not None and error.code == "615" and isinstance(error, TransientError)


def test_a_200_that_is_not_json_is_transient() -> None:
    with pytest.raises(MarketoTransportError):
        parse_envelope(response(200, b"<html>", "text/html"), "/p")


def test_errors_survive_pickling_with_their_extras() -> None:
    quota = DailyQuotaExhausted("607", "Daily quota reached", "r#1", resets_at=123.0)
    copy = pickle.loads(pickle.dumps(quota))
    assert (copy.code, copy.message, copy.request_id, copy.resets_at) == (
        "607",
        quota.message,
        "r#1",
        123.0,
    )
    assert str(copy) == str(quota)
    dropped = MarketoTransportError("connection", "dropped", maybe_sent=False)
    assert pickle.loads(pickle.dumps(dropped)).maybe_sent is False
    assert isinstance(marketo_error("999", "x"), PermanentError)


def test_the_transport_has_explicit_timeouts_tls_and_a_user_agent() -> None:
    from workers.marketo.transport import (
        DEFAULT_CONNECT_TIMEOUT_S,
        DEFAULT_READ_TIMEOUT_S,
        BearerAuth,
        Transport,
    )

    transport = Transport()
    assert transport.timeout == (DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_READ_TIMEOUT_S)
    session = transport.session
    assert session.verify is True
    assert str(session.headers["User-Agent"]).startswith("mkto-bulk/")
    prepared = requests.Request("GET", "https://mkto.test/rest/v1/x.json").prepare()
    BearerAuth("tok-123")(prepared)
    assert prepared.headers["Authorization"] == "Bearer tok-123"
    assert "tok-123" not in repr(BearerAuth("tok-123")) and "tok-123" not in str(prepared.url)


def test_a_refused_connection_is_known_not_to_have_been_sent() -> None:
    from tests.services import free_port
    from workers.marketo.transport import Transport

    with pytest.raises(MarketoTransportError) as raised:
        Transport(connect_timeout_s=1).request(
            "POST", f"http://127.0.0.1:{free_port()}/bulk/v1/leads.json", path="/bulk/v1/leads.json"
        )
    assert raised.value.code == "connection" and raised.value.maybe_sent is False
