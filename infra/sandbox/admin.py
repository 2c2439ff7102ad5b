"""The admin API under ``/_sandbox/``: no auth, JSON in and out, never counted as a call.

Tests and benchmarks use it to read what the "instance" saw (stats, jobs,
records), to move the clock, to change limits and to inject faults.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

from infra.sandbox import usage
from infra.sandbox.clock import iso_utc, parse_instant
from infra.sandbox.config import ConfigError
from infra.sandbox.envelope import json_response
from infra.sandbox.faults import QUEUEABLE
from infra.sandbox.ingestion import admin as ingestion_admin
from infra.sandbox.records import matches


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AdminApi:
    """Routes ``/_sandbox/...`` requests to the state."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")[1:]
        route = (request.method, parts[0] if parts else "")
        try:
            if route == ("GET", "stats"):
                return json_response(self.state.stats())
            if route == ("GET", "jobs"):
                return json_response(self.jobs())
            if route == ("GET", "occupancy"):
                with self.state.settled() as now:
                    return json_response(self.state.queue.occupancy(now, self.state.settings))
            if route == ("GET", "records") and len(parts) == 2:
                return json_response(self.records(parts[1], dict(request.args)))
            if route[1] == "clock" and request.method in ("GET", "POST"):
                return json_response(self.clock(_body(request) if request.method == "POST" else {}))
            if route == ("POST", "reset"):
                self.state.reset()
                return json_response({"ok": True})
            if route == ("GET", "config"):
                return json_response(self.state.settings.to_json())
            if route == ("PATCH", "config"):
                with self.state.lock:
                    self.state.update_settings(self.state.settings.patched(_body(request)))
                    return json_response(self.state.settings.to_json())
            if route[1] == "faults":
                return json_response(self.faults(request))
            if route == ("POST", "tokens") and parts[1:] == ["expire"]:
                with self.state.lock:
                    count = self.state.tokens.expire_all(self.state.clock.now())
                return json_response({"expired": count})
            if route[1] == "ingestion":
                return ingestion_admin.handle(self.state, request.method, parts[1:],
                                              dict(request.args))  # fmt: skip
            if route == ("GET", "health"):
                return json_response({"ok": True})
            if route[1] == "usage" and request.method in ("GET", "POST"):
                return json_response(self.usage(request))
        except ConfigError as failure:
            return json_response({"error": str(failure)}, 400)
        except AdminError as failure:
            return json_response({"error": str(failure)}, failure.status)
        return json_response({"error": f"no admin route {request.method} {request.path}"}, 404)

    def usage(self, request: Request) -> dict[str, Any]:
        """Marketo's usage report as it stands; POST first adds another integration's calls."""
        if request.method == "GET":
            with self.state.lock:
                return usage.report(self.state)
        try:
            return usage.add_calls(self.state, _body(request))
        except ValueError as failure:
            raise AdminError(400, str(failure)) from failure

    def jobs(self) -> list[dict[str, Any]]:
        with self.state.settled() as now:
            return [job.summary(now) for _, job in sorted(self.state.queue.jobs.items())]

    def records(self, name: str, filters: dict[str, str]) -> dict[str, Any]:
        with self.state.settled():
            records = self.state.store.all_records(name)
            if records is None:
                raise AdminError(404, f"unknown object '{name}'")
            if not filters:
                return {"count": sum(1 for _ in records)}
            found = [dict(r) for r in records if matches(r, filters)]
            return {"count": len(found), "records": found}

    def clock(self, body: dict[str, Any]) -> dict[str, Any]:
        clock = self.state.clock
        if "advance" in body:
            seconds = body["advance"]
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise AdminError(400, "advance must be a number of seconds >= 0")
            clock.advance(float(seconds))
        elif "set" in body:
            try:
                clock.set(parse_instant(body["set"]))
            except ValueError as failure:
                raise AdminError(400, f"set: {failure}") from failure
        elif body:
            raise AdminError(400, "expected {'advance': seconds} or {'set': time}")
        now = self.state.settle()
        return {"now": now, "iso": iso_utc(now), "offset": clock.offset}

    def faults(self, request: Request) -> dict[str, Any]:
        faults = self.state.faults
        if request.method == "POST":
            body = _body(request)
            fault = str(body.get("fault", ""))
            count = body.get("count", 1)
            prefix = body.get("path_prefix")
            if fault not in QUEUEABLE:
                raise AdminError(400, f"fault must be one of {', '.join(QUEUEABLE)}")
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise AdminError(400, "count must be an integer >= 1")
            if prefix is not None and (not isinstance(prefix, str) or not prefix.startswith("/")):
                raise AdminError(400, "path_prefix must be a path starting with '/'")
            with self.state.lock:
                faults.enqueue(fault, count, prefix)
        elif request.method == "DELETE":
            with self.state.lock:
                faults.queue.clear()
        elif request.method != "GET":
            raise AdminError(405, "use GET, POST or DELETE")
        with self.state.lock:
            return {"queued": faults.pending(), "injected": dict(faults.injected)}


def _body(request: Request) -> dict[str, Any]:
    raw = request.get_data(cache=False)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as failure:
        raise AdminError(400, f"invalid JSON: {failure}") from failure
    if not isinstance(body, dict):
        raise AdminError(400, "expected a JSON object")
    return body
