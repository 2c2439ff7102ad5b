"""The Data Ingestion calls, in the order a client meets the checks.

injected fault -> route and Munchkin id (404040) -> token (403010, 401013)
-> entitlement (4030801) -> requests per second per client id (429001)
-> headers, query string, size, JSON (4000801) -> validation rules (4000802)
-> objects per day (4290801) -> 202 and the request waits to be applied.
None of it touches the REST limits: this API has guardrails of its own.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from infra.sandbox.envelope import http_error
from infra.sandbox.ingestion import validate_members, validate_records
from infra.sandbox.ingestion.answers import (
    DAILY_QUOTA,
    INTERNAL,
    NOT_ENTITLED,
    NOT_FOUND,
    TOKEN_INVALID,
    TOKEN_MISSING,
    USAGE_LIMIT,
    IngestionError,
    accepted,
    bad_request,
    new_request_id,
    refused,
)
from infra.sandbox.ingestion.pending import IngestionRequest
from infra.sandbox.ingestion.shapes import Batch
from infra.sandbox.limits import quota_day
from infra.sandbox.state import SandboxState

PREFIX = "/subscriptions/"
TOKEN_HEADER = "X-Mkto-User-Token"
MAX_CORRELATION_ID = 255
MAX_REQUEST_SOURCE = 50
RESOURCES = ("persons", "companies", "programmembers", "programmembers/delete", "lists",
             "lists/remove")  # fmt: skip
DROP = "drop"
_DRAIN_LIMIT = 64 << 20  # an oversized body is read (and discarded) up to this before answering
# Injected faults answered with a documented error (REST's 606/615 are the usage limit here).
_FAULT_CODES = {"606": USAGE_LIMIT, "615": USAGE_LIMIT, "429": USAGE_LIMIT,
                "601": TOKEN_INVALID, "602": TOKEN_INVALID, "500": INTERNAL}  # fmt: skip


@dataclass
class Route:
    munchkin_id: str
    resource: str  # "persons", ..., or "customobjects/<apiName>"
    template: str  # for the stats: "POST /subscriptions/{munchkinId}/persons"


def match(method: str, path: str) -> Route | None:
    """The endpoint a path names (shape only; the Munchkin id and object are checked later)."""
    parts = path[len(PREFIX) :].strip("/").split("/")
    if len(parts) < 2 or not parts[0] or method != "POST":
        return None
    munchkin, rest = parts[0], "/".join(parts[1:])
    if rest in RESOURCES:
        return Route(munchkin, rest, f"POST /subscriptions/{{munchkinId}}/{rest}")
    if len(parts) == 3 and parts[1] == "customobjects" and parts[2]:
        template = "POST /subscriptions/{munchkinId}/customobjects/{customObjectAPIName}"
        return Route(munchkin, rest, template)
    return None


class IngestionGate:
    """Answers ``/subscriptions/...`` calls for one sandbox instance."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def handle(self, request: Request) -> Response | str:
        state = self.state
        route = match(request.method, request.path)
        request_id = new_request_id()
        with state.lock:
            now = state.clock.now()
            fault = state.faults.next_for(request.path, state.settings.faults, identity=False,
                                          import_call=False, ingestion=True)  # fmt: skip
        entry = IngestionRequest(
            request_id, route.template if route else f"{request.method} {request.path}",
            route.resource if route else "", now, None, fault=fault or None,
            correlation_id=request.headers.get("X-Correlation-Id"),
            request_source=request.headers.get("X-Request-Source"),
        )  # fmt: skip
        try:
            response = self._fault(fault) or self._serve(request, route, entry)
        except IngestionError as failure:
            entry.error_code, entry.message = failure.code, failure.message
            response = refused(failure, request_id)
        code = DROP if isinstance(response, str) else (entry.error_code or "")
        if not isinstance(response, str):
            entry.http_status = response.status_code
            code = code or str(response.status_code)
        with state.lock:
            state.ingestion.add(entry)
        state.record_call(entry.endpoint, code)
        return response

    def _fault(self, fault: str) -> Response | str | None:
        """Faults as an ingestion client meets them (raised as the documented error, or a
        gateway answer); None to carry on, after any delay."""
        if fault == "slow":
            time.sleep(self.state.settings.faults.slow_seconds)
            return None
        if fault == "drop":
            return DROP
        if fault in _FAULT_CODES:
            raise IngestionError(_FAULT_CODES[fault])
        if fault in ("5xx", "502", "503"):
            with self.state.lock:
                status = int(fault) if fault != "5xx" else self.state.faults.rng.choice((502, 503))
            return http_error(status, "Bad Gateway" if status == 502 else "Service Unavailable")
        if fault == "604":
            return http_error(504, "Gateway Timeout")
        if fault == "garbled":  # a 2xx that is not the documented 202; nothing is applied
            return Response(b"OK", status=200, mimetype="text/plain")
        return None

    def _serve(self, request: Request, route: Route | None, entry: IngestionRequest) -> Response:
        state = self.state
        settings = state.settings.ingestion
        if route is None or route.munchkin_id != settings.munchkin_id:
            raise IngestionError(NOT_FOUND)
        api_name = route.resource.partition("/")[2] if route.resource.startswith("custom") else ""
        if api_name and api_name not in state.schema.custom_objects:
            raise IngestionError(NOT_FOUND)
        entry.client_id = self._client(request)
        if not settings.entitled:
            raise IngestionError(NOT_ENTITLED)
        with state.lock:
            now = state.clock.now()
            if not state.ingestion.admit_rate(entry.client_id, now, settings.requests_per_second):
                raise IngestionError(USAGE_LIMIT)
        self._check_request(request, entry)
        body = self._body(request, settings.max_body_bytes)
        batch = self._validate(route, body, api_name, settings.max_objects_per_request)
        with state.lock:
            now = state.clock.now()
            day = quota_day(now, state.settings.quota_timezone)
            if not state.ingestion.take_objects(len(batch.items), day, settings.daily_objects):
                raise IngestionError(DAILY_QUOTA)
            entry.batch, entry.objects = batch, len(batch.items)
            entry.received_at, entry.apply_at = now, now + settings.apply_delay_s
        return accepted(entry.request_id)

    def _client(self, request: Request) -> str:
        """The token's client id; only ``X-Mkto-User-Token`` may carry the token."""
        if request.headers.get("Authorization", "").strip():
            raise IngestionError(TOKEN_INVALID)  # the gateway reads it as an Adobe token
        token = request.headers.get(TOKEN_HEADER, "").strip()
        if not token:
            raise IngestionError(TOKEN_MISSING)  # a token in the query string is not seen
        with self.state.lock:
            now = self.state.clock.now()
            problem = self.state.tokens.check(token, now)
            owner = self.state.tokens.owner(token)
        if problem is not None or owner is None:
            raise IngestionError(TOKEN_INVALID)
        return owner

    @staticmethod
    def _check_request(request: Request, entry: IngestionRequest) -> None:
        if entry.correlation_id is not None and len(entry.correlation_id) > MAX_CORRELATION_ID:
            raise bad_request(f"X-Correlation-Id is longer than {MAX_CORRELATION_ID} characters")
        if entry.request_source is not None and len(entry.request_source) > MAX_REQUEST_SOURCE:
            raise bad_request(f"X-Request-Source is longer than {MAX_REQUEST_SOURCE} characters")
        if request.query_string:
            raise bad_request("query parameters are not supported")
        if request.mimetype != "application/json":
            raise bad_request("Content-Type must be application/json")

    @staticmethod
    def _body(request: Request, limit: int) -> dict[str, Any]:
        """The JSON object in the body; bodies over ``limit`` bytes are refused unparsed."""
        data = request.stream.read(limit + 1)
        if len(data) > limit:
            left = _DRAIN_LIMIT
            while left > 0 and request.stream.read(min(left, 1 << 20)):
                left -= 1 << 20
            raise bad_request(f"request body is larger than {limit} bytes")
        try:
            body = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError) as failure:
            raise bad_request(f"body is not valid JSON ({failure})") from failure
        if not isinstance(body, dict):
            raise bad_request("body must be a JSON object")
        return body

    def _validate(self, route: Route, body: dict[str, Any], api_name: str, limit: int) -> Batch:
        resource = route.resource
        if resource == "persons":
            return validate_records.persons(body, self.state.schema, limit)
        if resource == "companies":
            return validate_records.companies(body, limit)
        if api_name:
            return validate_records.custom_objects(body, api_name, limit)
        if resource.startswith("programmembers"):
            return validate_members.program_members(body, limit, delete=resource.endswith("delete"))
        return validate_members.lists(body, limit, remove=resource.endswith("remove"))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
