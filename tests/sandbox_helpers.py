"""Helpers for the sandbox tests: a plain-``requests`` Marketo caller and admin shortcuts."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import requests

from tests.services import Service, wait_for


def admin(service: Service, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call the sandbox's admin API and return its JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        service.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


TIMEOUT = 30


class Caller:
    """Talks to the sandbox exactly as Marketo's docs show: bearer header, multipart file."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.url = service.url
        self.session = requests.Session()
        self._token = ""

    def token(self) -> str:
        response = requests.get(
            self.url + "/identity/oauth/token",
            params={
                "grant_type": "client_credentials",
                "client_id": self.service.extra["client_id"],
                "client_secret": self.service.extra["client_secret"],
            },
            timeout=TIMEOUT,
        )
        response.raise_for_status()
        self._token = str(response.json()["access_token"])
        return self._token

    def current_token(self) -> str:
        """The token already fetched, or a new one."""
        return self._token or self.token()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.current_token()}"}

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(
            self.url + path, params=params, headers=self.headers, timeout=TIMEOUT
        )

    def get_json(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def upload(
        self, path: str, content: bytes | str, filename: str = "data.csv", **params: Any
    ) -> requests.Response:
        data = content.encode() if isinstance(content, str) else content
        files = {"file": (filename, data, "text/csv")}
        return self.session.post(
            self.url + path, params=params, files=files, headers=self.headers, timeout=TIMEOUT
        )

    def submit(self, path: str, content: bytes | str, **params: Any) -> int:
        """Create a job and return its batch id (asserting Marketo's success envelope)."""
        response = self.upload(path, content, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True, body
        assert body["result"][0]["status"] == "Queued"
        return int(body["result"][0]["batchId"])

    def wait_done(self, status_path: str, timeout: float = 20) -> dict[str, Any]:
        """Poll a status path until the job is Complete or Failed; return its result."""
        seen: dict[str, Any] = {}

        def done() -> bool:
            body = self.get_json(status_path)
            assert body["success"] is True, body
            seen.update(body["result"][0])
            return seen["status"] in ("Complete", "Failed")

        wait_for(done, timeout, interval=0.05, what=f"{status_path} to finish")
        return seen


def errors(response: requests.Response) -> list[dict[str, str]]:
    body = response.json()
    assert response.status_code == 200
    assert body["success"] is False, body
    assert isinstance(body["requestId"], str)
    result: list[dict[str, str]] = body["errors"]
    return result


def error_code(response: requests.Response) -> str:
    return errors(response)[0]["code"]


def configure(service: Service, **settings: Any) -> dict[str, Any]:
    result: dict[str, Any] = admin(service, "PATCH", "/_sandbox/config", settings)
    return result


def stats(service: Service) -> dict[str, Any]:
    result: dict[str, Any] = admin(service, "GET", "/_sandbox/stats")
    return result


def admin_raw(service: Service, method: str, path: str, body: Any = None) -> requests.Response:
    """An admin call whose error status the test wants to see (admin() raises on 4xx)."""
    data = None if body is None else json.dumps(body)
    return requests.request(method, service.url + path, data=data, timeout=TIMEOUT)


def csv_rows(text: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(text, newline="")))


def start_process(
    workdir: Any, args: list[str], env: dict[str, str] | None = None
) -> tuple[Any, str, float]:
    """Start ``python -m infra.sandbox ARGS``: (process, listening line, seconds to it)."""
    import os
    import subprocess
    import sys
    import time

    log_path = workdir / "sandbox-extra.log"
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=log_path.open("wb"),
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    elapsed = time.monotonic() - started
    if not line:
        process.wait(10)
        raise RuntimeError(f"sandbox exited: {log_path.read_text()}")
    return process, line, elapsed


# -- the Data Ingestion API -------------------------------------------------------------------

INGESTION_TOKEN_HEADER = "X-Mkto-User-Token"


class Ingester:
    """Calls the Data Ingestion API as data-ingestion.md shows: token in ``X-Mkto-User-Token``,
    a JSON body, under ``/subscriptions/{munchkinId}`` (the id from ``GET /_sandbox/config``)."""

    def __init__(self, service: Service, caller: Caller | None = None) -> None:
        self.service = service
        self.caller = caller or Caller(service)
        config = admin(service, "GET", "/_sandbox/config")
        self.munchkin_id = str(config["ingestion"]["munchkin_id"])
        self.base = f"{service.url}/subscriptions/{self.munchkin_id}"
        self.session = requests.Session()

    def post(
        self,
        resource: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        token: bool = True,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        """POST ``body`` as JSON (or raw ``data``) to ``resource`` (e.g. ``persons``)."""
        sent = {"Content-Type": "application/json"}
        if token:
            sent[INGESTION_TOKEN_HEADER] = self.caller.current_token()
        sent.update(headers or {})
        payload = data if data is not None else json.dumps(body).encode()
        return self.session.post(
            f"{self.base}/{resource}", data=payload, headers=sent, params=params, timeout=TIMEOUT
        )

    def send(self, resource: str, body: Any, **kwargs: Any) -> str:
        """Post and assert the documented success (202, empty body); return X-Request-Id."""
        response = self.post(resource, body, **kwargs)
        assert response.status_code == 202, response.text
        assert response.content == b""
        request_id = response.headers["X-Request-Id"]
        assert request_id
        return request_id


def refusal(response: requests.Response) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of a refused ingestion call, checking the documented error shape."""
    assert response.status_code != 202
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers.get("X-Request-Id")
    body: dict[str, Any] = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert isinstance(body["error_code"], str) and isinstance(body["message"], str)
    return response.status_code, body


def drain(service: Service) -> int:
    """Apply every pending ingestion request now; returns how many were applied."""
    return int(admin(service, "POST", "/_sandbox/ingestion/drain", {})["applied"])


def ingestion_request(service: Service, request_id: str) -> dict[str, Any]:
    result: dict[str, Any] = admin(service, "GET", f"/_sandbox/ingestion/requests/{request_id}")
    return result


def records(service: Service, name: str, **filters: Any) -> list[dict[str, Any]]:
    """The records of ``name`` matching ``filters`` (at least one filter is needed)."""
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    result: list[dict[str, Any]] = admin(service, "GET", f"/_sandbox/records/{name}?{query}")[
        "records"
    ]
    return result
