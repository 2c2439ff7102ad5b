"""The Data Ingestion API's answers: 202 with an empty body, or ``{"error_code", "message"}``.

Codes and messages are data-ingestion.md's ("Error"). For the two 400 codes
the sandbox appends ``: <detail>`` to the documented message so a client's log
says what was wrong; clients branch on ``error_code`` only.
"""

from __future__ import annotations

import json
import uuid

from werkzeug.wrappers import Response

BAD_REQUEST = "4000801"
INVALID_DATA = "4000802"
TOKEN_INVALID = "401013"
TOKEN_MISSING = "403010"
NOT_ENTITLED = "4030801"
NOT_FOUND = "404040"
USAGE_LIMIT = "429001"
DAILY_QUOTA = "4290801"
INTERNAL = "5000801"

# error_code: (HTTP status, documented message)
DOCUMENTED = {
    BAD_REQUEST: (400, "Bad request"),
    INVALID_DATA: (400, "Invalid data"),
    TOKEN_INVALID: (401, "Oauth token is invalid"),
    TOKEN_MISSING: (403, "Oauth token is missing"),
    NOT_ENTITLED: (403, "Unauthorized"),
    NOT_FOUND: (404, "Resource not found"),
    USAGE_LIMIT: (429, "Service usage limit reached"),
    DAILY_QUOTA: (429, "Daily quota reached"),
    INTERNAL: (500, "Internal Server Error"),
}


class IngestionError(Exception):
    """A refused call: its documented code, plus a detail for the 400s."""

    def __init__(self, code: str, detail: str = "") -> None:
        status, message = DOCUMENTED[code]
        self.code = code
        self.status = status
        self.message = f"{message}: {detail}" if detail else message
        super().__init__(f"{code} {self.message}")


def bad_request(detail: str) -> IngestionError:
    """The request cannot be read (not JSON, too large, query string, header too long)."""
    return IngestionError(BAD_REQUEST, detail)


def invalid(detail: str) -> IngestionError:
    """The body is JSON but breaks a validation rule of data-ingestion.md."""
    return IngestionError(INVALID_DATA, detail)


def new_request_id() -> str:
    return str(uuid.uuid4())


def accepted(request_id: str) -> Response:
    """HTTP 202, ``Content-Length: 0``, no body and no content type, as in the docs' example."""
    response = Response(b"", status=202)
    response.headers.remove("Content-Type")
    response.headers["X-Request-Id"] = request_id
    return response


def refused(failure: IngestionError, request_id: str) -> Response:
    body = json.dumps({"error_code": failure.code, "message": failure.message})
    response = Response(body, status=failure.status, mimetype="application/json")
    response.headers["X-Request-Id"] = request_id
    return response
