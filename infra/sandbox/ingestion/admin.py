"""``/_sandbox/ingestion/...``: what Marketo reports only through its Observability Data Stream.

Each answered request's outcome (accepted objects, per-object failures and
warnings), a drain that applies every pending request now, and the counters.
Every read settles first, so a request due by now is already applied.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from infra.sandbox.envelope import json_response
from infra.sandbox.limits import quota_day

FILTERS = ("status", "resource", "correlation_id", "request_source", "error_code")


def handle(state: Any, method: str, parts: list[str], args: dict[str, str]) -> Response:
    """Route one admin call; ``parts`` follow ``ingestion/``."""
    route = (method, parts[0] if parts else "")
    if route == ("GET", "requests") and len(parts) == 1:
        unknown = sorted(set(args) - set(FILTERS))
        if unknown:
            return json_response({"error": f"unknown filter {unknown[0]!r}; use "
                                           f"{', '.join(FILTERS)}"}, 400)  # fmt: skip
        return json_response(requests(state, args))
    if route == ("GET", "requests") and len(parts) == 2:
        with state.settled():
            found = state.ingestion.requests.get(parts[1])
            if found is None:
                return json_response({"error": f"no ingestion request '{parts[1]}'"}, 404)
            return json_response(found.detail())
    if route == ("POST", "drain") and len(parts) == 1:
        with state.lock:
            pending = state.ingestion.pending_count()
            state.settle(drain=True)
            return json_response({"applied": pending})
    if route == ("GET", "stats") and len(parts) == 1:
        return json_response(stats(state))
    return json_response({"error": f"no admin route {method} /_sandbox/ingestion/"
                                   f"{'/'.join(parts)}"}, 404)  # fmt: skip


def requests(state: Any, args: dict[str, str]) -> dict[str, Any]:
    """Summaries in the order received, filtered by ``?status=&resource=&correlation_id=...``."""
    with state.settled():
        found = [r.summary() for r in state.ingestion.requests.values()]
    for name, wanted in args.items():
        found = [s for s in found if str(s[name]) == wanted]
    return {"count": len(found), "requests": found}


def stats(state: Any) -> dict[str, Any]:
    with state.settled() as now:
        log = state.ingestion
        settings = state.settings
        by_status: dict[str, int] = dict.fromkeys(("pending", "applied", "rejected", "dropped"), 0)
        accepted = applied = failed = 0
        for request in log.requests.values():
            by_status[request.status] += 1
            accepted += request.objects
            applied += request.applied
            failed += len(request.failures)
        return {
            "base_path": f"/subscriptions/{settings.ingestion.munchkin_id}",
            "requests": by_status,
            "pending": log.pending_count(),
            "objects_accepted": accepted,
            "objects_applied": applied,
            "objects_failed": failed,
            "objects_today": log.objects_on(quota_day(now, settings.quota_timezone)),
            "now": now,
        }
