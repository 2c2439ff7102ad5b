"""HTTP to Marketo: one pooled session, explicit timeouts, errors mapped at the boundary.

Marketo answers most business errors as HTTP 200 with ``success: false``, so
the body decides, never the reason phrase. Transport failures are mapped to
``MarketoTransportError`` with messages we write ourselves: a requests
exception's text can carry a URL, and nothing here may ever echo a credential.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from workers import defaults
from workers.errors import (
    MarketoError,
    MarketoPermanentError,
    MarketoTransportError,
    marketo_error,
)
from workers.telemetry import traces

DEFAULT_CONNECT_TIMEOUT_S = defaults.MARKETO_CONNECT_TIMEOUT_S
DEFAULT_READ_TIMEOUT_S = defaults.MARKETO_READ_TIMEOUT_S
POOL_SIZE = 10
USER_AGENT = "mkto-bulk/0.1 (+python-requests)"


@dataclass(frozen=True)
class Envelope:
    """A successful Marketo JSON answer."""

    request_id: str | None
    result: list[Any]
    body: Mapping[str, Any]


class BearerAuth(requests.auth.AuthBase):
    """The token in the ``Authorization`` header (never the query string).

    Passing it as ``auth`` also keeps requests from applying ~/.netrc
    credentials over it; its repr never shows the token.
    """

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


class Transport:
    """A requests session per process (sessions are not fork-safe), TLS verification always on."""

    def __init__(
        self,
        *,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.user_agent = user_agent
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._pid = 0

    @property
    def session(self) -> requests.Session:
        with self._lock:
            if self._session is None or self._pid != os.getpid():
                session = requests.Session()
                adapter = HTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.headers["User-Agent"] = self.user_agent
                session.verify = True
                self._session, self._pid = session, os.getpid()
            return self._session

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
            self._session = None

    def request(
        self,
        method: str,
        url: str,
        *,
        path: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        stream: bool = False,
        timeout: tuple[float, float] | None = None,
        auth: requests.auth.AuthBase | None = None,
    ) -> requests.Response:
        """Send one request; raise MarketoTransportError if no HTTP answer came back.

        When tracing, the request is a client span: its method, URL without the
        query and status, never a header or a body (the token, the secret).
        """
        with traces.span(f"marketo {method} {path}", _span_attributes(method, url)) as span:
            response = self._send(method, url, path, headers, params, data, stream, timeout, auth)
            traces.http_status(span, response.status_code)
            return response

    def _send(
        self,
        method: str,
        url: str,
        path: str,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        data: Any,
        stream: bool,
        timeout: tuple[float, float] | None,
        auth: requests.auth.AuthBase | None,
    ) -> requests.Response:
        try:
            return self.session.request(
                method,
                url,
                headers=dict(headers or {}),
                auth=auth,
                params=params,
                data=data,
                stream=stream,
                timeout=timeout or self.timeout,
                verify=True,
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout:
            raise MarketoTransportError(
                "timeout", f"{method} {path}: connect timed out", maybe_sent=False
            ) from None
        except requests.exceptions.Timeout:
            raise MarketoTransportError("timeout", f"{method} {path}: read timed out") from None
        except requests.exceptions.SSLError:
            raise MarketoPermanentError(
                "tls", f"{method} {path}: TLS verification failed"
            ) from None
        except requests.exceptions.ConnectionError as error:
            sent = not _refused(error)
            what = "connection dropped" if sent else "connection refused"
            raise MarketoTransportError(
                "connection", f"{method} {path}: {what}", maybe_sent=sent
            ) from None
        except requests.exceptions.ChunkedEncodingError:
            raise MarketoTransportError("connection", f"{method} {path}: answer cut off") from None


def _span_attributes(method: str, url: str) -> dict[str, str | int]:
    """A request's span attributes (OpenTelemetry's HTTP names): no query, no credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    attributes: dict[str, str | int] = {"http.request.method": method, "server.address": host}
    if parts.port is not None:
        attributes["server.port"] = parts.port
        netloc += f":{parts.port}"
    attributes["url.full"] = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return attributes


def iter_body(response: requests.Response, path: str, chunk_bytes: int) -> Iterator[bytes]:
    """The streamed body in chunks; a connection lost mid-body is a transient error."""
    method = response.request.method
    try:
        yield from response.iter_content(chunk_bytes)
    except (
        requests.exceptions.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.Timeout,
    ):
        raise MarketoTransportError("connection", f"{method} {path}: answer cut off") from None


def _refused(error: requests.exceptions.ConnectionError) -> bool:
    """True when the request certainly never left (no connection was made)."""
    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, NewConnectionError)


def http_error(response: requests.Response, path: str) -> MarketoError | None:
    """An error for a non-2xx status (Marketo's 413/414, gateway 5xx), or None."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    body = _json_body(response)
    if isinstance(body, Mapping) and body.get("success") is False and body.get("errors"):
        try:
            envelope_from_body(body, path)
        except MarketoError as error:
            return error  # Marketo's own code beats the HTTP status
    request_id = body.get("requestId") if isinstance(body, Mapping) else None
    request_id = str(request_id) if request_id is not None else None
    message = f"{response.request.method} {path}: HTTP {status}"
    if status >= 500 or status == 429:
        return MarketoTransportError(str(status), message, request_id)
    return marketo_error(str(status), message, request_id)


def parse_envelope(response: requests.Response, path: str) -> Envelope:
    """Read Marketo's JSON envelope; raise the mapped error when ``success`` is false."""
    error = http_error(response, path)
    if error is not None:
        raise error
    try:
        body = response.json()
    except ValueError:
        raise MarketoTransportError(
            "invalid-response", f"{response.request.method} {path}: answer is not JSON"
        ) from None
    return envelope_from_body(body, path)


def envelope_from_body(body: Any, path: str) -> Envelope:
    """The pure half of ``parse_envelope``: a decoded body to an Envelope or an error."""
    if not isinstance(body, Mapping):
        raise MarketoTransportError("invalid-response", f"{path}: answer is not a JSON object")
    request_id = body.get("requestId")
    request_id = str(request_id) if request_id is not None else None
    if body.get("success") is not True:
        errors = body.get("errors") or []
        first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
        code = str(first.get("code", "unknown"))
        message = str(first.get("message", "request failed without an error code"))
        if len(errors) > 1:
            message += f" (+{len(errors) - 1} more)"
        raise marketo_error(code, f"{path}: {message}", request_id)
    result = body.get("result")
    return Envelope(request_id, list(result) if isinstance(result, list) else [], body)


def _json_body(response: requests.Response) -> Any:
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        return response.json()
    except ValueError:
        return None
