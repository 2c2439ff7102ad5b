"""Marketo's response envelope: HTTP 200 with ``requestId``/``success``/``result``|``errors``."""

from __future__ import annotations

import itertools
import json
import random
import time
from typing import Any

from werkzeug.wrappers import Response

_sequence = itertools.count(random.randrange(0x1000, 0xFFFF))


class MarketoError(Exception):
    """A response-level error: Marketo answers HTTP 200, ``success: false`` and this code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def request_id() -> str:
    """Shaped like Marketo's ``e42b#14272d07d78``: a short counter, ``#``, hex milliseconds."""
    return f"{next(_sequence) & 0xFFFFF:x}#{int(time.time() * 1000):x}"


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def ok(result: list[dict[str, Any]]) -> Response:
    return json_response({"requestId": request_id(), "result": result, "success": True})


class ErrorResponse(Response):
    """An envelope with ``success: false``; remembers its code for the stats."""

    marketo_code: str = ""


def error(code: str, message: str) -> Response:
    body = {
        "requestId": request_id(),
        "success": False,
        "errors": [{"code": code, "message": message}],
    }
    response = ErrorResponse(json.dumps(body), status=200, mimetype="application/json")
    response.marketo_code = code
    return response


def http_error(status: int, reason: str) -> Response:
    """A gateway-level answer (413, 502, 503): no JSON envelope, as Marketo's front end sends."""
    html = (
        f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>"
    )
    return Response(html, status=status, mimetype="text/html")


def result_code(response: Response) -> str:
    """The code a call is counted under in the stats: the Marketo error code, else HTTP status."""
    if isinstance(response, ErrorResponse):
        return response.marketo_code
    return str(response.status_code)


NO_ASSETS = "No assets found for the given search criteria."


def asset_ok(result: list[dict[str, Any]]) -> Response:
    """The Asset API's envelope: ``errors`` and ``warnings`` always present; none found is a
    success with a warning and no ``result``."""
    body: dict[str, Any] = {
        "success": True,
        "errors": [],
        "requestId": request_id(),
        "warnings": [] if result else [NO_ASSETS],
    }
    if result:
        body["result"] = result
    return json_response(body)
