"""The WSGI application: routing, Marketo's envelope, auth, limits, faults and counters.

Every Marketo call goes through the same pipeline, in the order a client meets
them: concurrency (615), injected faults, auth (600/601/602), quota and rate
(607/606), then the endpoint. Admin calls under ``/_sandbox/`` bypass all of it;
Data Ingestion calls under ``/subscriptions/`` have their own (ingestion/gate.py).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from infra.sandbox import bulk, describe, lookups, usage
from infra.sandbox.admin import AdminApi
from infra.sandbox.envelope import MarketoError, error, http_error, json_response, ok, result_code
from infra.sandbox.identity import credentials_match
from infra.sandbox.ingestion.gate import PREFIX as INGESTION_PREFIX
from infra.sandbox.ingestion.gate import IngestionGate
from infra.sandbox.state import SandboxState

log = logging.getLogger(__name__)
IDENTITY_PATH = "/identity/oauth/token"
_DROP = "drop"

# (method, path template as in Marketo's docs, werkzeug rule, endpoint name)
ROUTES = [
    ("POST", "/bulk/v1/leads.json", "/bulk/v1/leads.json", "import_leads"),
    ("GET", "/bulk/v1/leads/batch/{batchId}.json", "/bulk/v1/leads/batch/<int:batch_id>.json",
     "lead_status"),
    ("GET", "/bulk/v1/leads/batch/{batchId}/failures.json",
     "/bulk/v1/leads/batch/<int:batch_id>/failures.json", "lead_failures"),
    ("GET", "/bulk/v1/leads/batch/{batchId}/warnings.json",
     "/bulk/v1/leads/batch/<int:batch_id>/warnings.json", "lead_warnings"),
    ("POST", "/bulk/v1/customobjects/{apiName}/import.json",
     "/bulk/v1/customobjects/<api_name>/import.json", "import_co"),
    ("GET", "/bulk/v1/customobjects/{apiName}/import/{batchId}/status.json",
     "/bulk/v1/customobjects/<api_name>/import/<int:batch_id>/status.json", "co_status"),
    ("GET", "/bulk/v1/customobjects/{apiName}/import/{batchId}/failures.json",
     "/bulk/v1/customobjects/<api_name>/import/<int:batch_id>/failures.json", "co_failures"),
    ("GET", "/bulk/v1/customobjects/{apiName}/import/{batchId}/warnings.json",
     "/bulk/v1/customobjects/<api_name>/import/<int:batch_id>/warnings.json", "co_warnings"),
    ("POST", "/bulk/v1/program/{programId}/members/import.json",
     "/bulk/v1/program/<program_id>/members/import.json", "import_pm"),
    ("GET", "/bulk/v1/program/members/import/{batchId}/status.json",
     "/bulk/v1/program/members/import/<int:batch_id>/status.json", "pm_status"),
    ("GET", "/bulk/v1/program/members/import/{batchId}/failures.json",
     "/bulk/v1/program/members/import/<int:batch_id>/failures.json", "pm_failures"),
    ("GET", "/bulk/v1/program/members/import/{batchId}/warnings.json",
     "/bulk/v1/program/members/import/<int:batch_id>/warnings.json", "pm_warnings"),
    ("GET", "/rest/v1/leads/describe.json", "/rest/v1/leads/describe.json", "describe_leads"),
    ("GET", "/rest/v1/leads/describe2.json", "/rest/v1/leads/describe2.json", "describe_leads2"),
    ("GET", "/rest/v1/customobjects/{apiName}/describe.json",
     "/rest/v1/customobjects/<api_name>/describe.json", "describe_co"),
    ("GET", "/rest/v1/programs/members/describe.json", "/rest/v1/programs/members/describe.json",
     "describe_pm"),
    ("GET", "/rest/v1/program/members/describe.json", "/rest/v1/program/members/describe.json",
     "describe_pm_v1"),
    ("GET", "/rest/v1/companies/describe.json", "/rest/v1/companies/describe.json",
     "describe_companies"),
    ("GET", "/rest/v1/lists/{listId}.json", "/rest/v1/lists/<int:list_id>.json", "get_list"),
    ("GET", "/rest/v1/leads/partitions.json", "/rest/v1/leads/partitions.json", "get_partitions"),
    ("GET", "/rest/asset/v1/program/{id}.json", "/rest/asset/v1/program/<int:program_id>.json",
     "get_program"),
    ("GET", "/rest/asset/v1/channel/byName.json", "/rest/asset/v1/channel/byName.json",
     "get_channel"),
    ("GET", "/rest/asset/v1/channels.json", "/rest/asset/v1/channels.json", "get_channels"),
    ("GET", "/rest/v1/stats/usage.json", "/rest/v1/stats/usage.json", "stats_usage"),
]  # fmt: skip
_TEMPLATES = {name: f"{method} {template}" for method, template, _, name in ROUTES}
_IMPORTS = {"import_leads", "import_co", "import_pm"}
_KINDS = {"lead": "leads", "co": "customobject", "pm": "program_members"}
# The describe calls answered from the schema alone (a custom object's needs its name).
_DESCRIBES = {"describe_leads": describe.leads, "describe_leads2": describe.leads2,
              "describe_pm": describe.program_members,
              "describe_pm_v1": describe.program_members_v1,
              "describe_companies": describe.companies}  # fmt: skip


class SandboxApp:
    """The WSGI callable serving one sandbox instance."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.admin = AdminApi(state)
        self.ingestion = IngestionGate(state)
        self.url_map = Map(
            [Rule(rule, methods=[method], endpoint=name) for method, _, rule, name in ROUTES],
            strict_slashes=False,
        )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/_sandbox/"):
            response: Response | str = self.admin.handle(request)
        elif request.path.rstrip("/") == IDENTITY_PATH:
            response = self._identity_call(request)
        elif request.path.startswith(INGESTION_PREFIX):
            response = self.ingestion.handle(request)
        else:
            response = self._marketo_call(request)
        if isinstance(response, str):  # drop: close the socket without answering
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            start_response("200 OK", [("Content-Length", "0")])
            return []
        return response(environ, start_response)

    # -- identity --------------------------------------------------------------------------

    def _identity_call(self, request: Request) -> Response | str:
        state = self.state
        key = f"{request.method} {IDENTITY_PATH}"
        with state.lock:
            fault = state.faults.next_for(request.path, state.settings.faults, identity=True,
                                          import_call=False)  # fmt: skip
        response = self._fault_response(fault) or self._token(request)
        state.record_call(key, _DROP if isinstance(response, str) else str(response.status_code))
        return response

    def _token(self, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return json_response({"error": "invalid_request"}, 405)
        values = request.values if request.method == "POST" else request.args
        if values.get("grant_type") != "client_credentials":
            unsupported = {"error": "unsupported_grant_type", "error_description": "Unsupported"}
            return json_response(unsupported, 400)
        creds = self.state.credentials
        given_id = values.get("client_id", "")
        if not credentials_match(given_id, values.get("client_secret", ""),
                                 creds.client_id, creds.client_secret):  # fmt: skip
            bad = {"error": "invalid_client", "error_description": "Bad client credentials"}
            return json_response(bad, 401)
        with self.state.lock:
            now = self.state.clock.now()
            token, expires_in = self.state.tokens.issue(
                given_id, now, self.state.settings.token_ttl
            )
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": expires_in,
            "scope": self.state.schema.scope,
        }
        return json_response(body)

    # -- Marketo REST / bulk calls ----------------------------------------------------------

    def _marketo_call(self, request: Request) -> Response | str:
        state = self.state
        adapter = self.url_map.bind_to_environ(request.environ)
        endpoint, key = "", f"{request.method} {request.path}"
        args: dict[str, Any] = {}
        route_error: MarketoError | None = None
        try:
            matched, matched_args = adapter.match()
            endpoint, args = str(matched), dict(matched_args)
            key = _TEMPLATES[endpoint]
        except MethodNotAllowed:
            route_error = MarketoError("605", "HTTP Method not supported")
        except NotFound:
            route_error = MarketoError("610", "Requested resource not found")
        with state.lock:
            now = state.clock.now()
            state.limits.observe(now, state.settings)
            within = state.limits.enter(state.settings)
            fault = ""
            if within:
                fault = state.faults.next_for(request.path, state.settings.faults, identity=False,
                                              import_call=endpoint in _IMPORTS)  # fmt: skip
        try:
            if not within:
                response: Response | str = error("615", "Concurrent access limit reached")
            else:
                job_fault = fault if fault in ("job_failed", "skip_row") else ""
                response = self._fault_response(fault) or self._execute(
                    request, endpoint, args, route_error, job_fault
                )
        finally:
            with state.lock:
                state.limits.leave()
        state.record_call(key, _DROP if isinstance(response, str) else result_code(response))
        return response

    def _fault_response(self, fault: str) -> Response | str | None:
        """The answer an injected fault gives, or None to carry on (after any delay)."""
        state = self.state
        if fault == "slow":
            time.sleep(state.settings.faults.slow_seconds)
            return None
        if fault == "drop":
            return _DROP
        if fault == "garbled":
            return ok([{"batchId": "garbled", "status": "Queued"}])
        if fault in ("5xx", "502", "503"):
            with state.lock:
                status = int(fault) if fault != "5xx" else state.faults.rng.choice((502, 503))
            return http_error(status, "Bad Gateway" if status == 502 else "Service Unavailable")
        messages = {
            "606": f"Max rate limit '{state.settings.rate_limit_calls}' exceeded with in "
            f"'{state.settings.rate_limit_window:g}' secs",
            "615": "Concurrent access limit reached",
            "604": "Request time-out",
            "601": "Access token invalid",
            "602": "Access token expired",
        }
        if fault in messages:
            return error(fault, messages[fault])
        return None

    def _execute(
        self,
        request: Request,
        endpoint: str,
        args: dict[str, Any],
        route_error: MarketoError | None,
        job_fault: str,
    ) -> Response:
        state = self.state
        try:
            user = usage.api_user(self._authenticate(request))
            with state.lock:
                state.limits.admit(state.clock.now(), state.settings, user)
            if route_error is not None:
                raise route_error
            return self._endpoint(request, endpoint, args, job_fault)
        except MarketoError as failure:
            return error(failure.code, failure.message)
        except bulk.PayloadTooLarge:
            return http_error(413, "Request Entity Too Large")

    def _authenticate(self, request: Request) -> str:
        """The client id the request's token was issued to, or a 600/601/602 MarketoError."""
        if "access_token" in request.args:
            raise MarketoError(
                "601",
                "Access token invalid: the access_token query parameter is not supported, "
                "send the token in the Authorization: Bearer header",
            )
        header = request.headers.get("Authorization", "")
        if not header.strip():
            raise MarketoError("600", "Access token not specified")
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise MarketoError("601", "Access token invalid")
        with self.state.lock:
            code = self.state.tokens.check(value.strip(), self.state.clock.now())
        if code == "601":
            raise MarketoError("601", "Access token invalid")
        if code == "602":
            raise MarketoError("602", "Access token expired")
        with self.state.lock:
            return self.state.tokens.owner(value.strip()) or ""

    def _endpoint(
        self, request: Request, endpoint: str, args: dict[str, Any], fault: str
    ) -> Response:
        state = self.state
        if endpoint == "import_leads":
            return bulk.import_leads(request, state, fault)
        if endpoint == "import_co":
            return bulk.import_custom_objects(request, state, args["api_name"], fault)
        if endpoint == "import_pm":
            return bulk.import_program_members(request, state, args["program_id"], fault)
        prefix, _, what = endpoint.partition("_")
        if prefix in _KINDS:
            kind, api_name = _KINDS[prefix], args.get("api_name")
            if what == "status":
                return bulk.batch_status(state, args["batch_id"], kind, api_name)
            return bulk.batch_file(state, args["batch_id"], kind, what, api_name)
        schema = state.schema
        if endpoint.startswith("get_"):
            return lookups.answer(request, schema, endpoint, args)
        if endpoint == "stats_usage":
            return usage.daily(state)
        if endpoint in _DESCRIBES:
            return ok(_DESCRIBES[endpoint](schema))
        definition = schema.custom_objects.get(args.get("api_name", ""))
        if endpoint == "describe_co" and definition is not None:
            return ok(describe.custom_object(definition))
        raise MarketoError("1013", f"Custom object '{args.get('api_name')}' not found")
