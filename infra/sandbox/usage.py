"""Marketo's daily usage report: every API user's calls today, ours and other integrations'.

``GET /rest/v1/stats/usage.json`` answers one ``UsageData`` per day (here: today
in the quota's zone) with the ``total`` and a count per API user. Marketo names
users, not client ids: the sandbox's one client id makes its calls as the API
user ``api_user(client_id)``. Other integrations do not call the sandbox; the
admin API adds calls for a made-up user (``POST /_sandbox/usage``), and those
calls use up the instance's daily quota as real ones would.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from infra.sandbox.envelope import ok

API_USER_DOMAIN = "api.sandbox.invalid"


def api_user(client_id: str) -> str:
    """The API user a client id's calls are reported under (Marketo: the user's email)."""
    return f"{client_id}@{API_USER_DOMAIN}" if client_id else ""


def report(state: Any) -> dict[str, Any]:
    """Today's ``UsageData``; the caller holds the state lock."""
    day, total, by_user = state.limits.usage(state.clock.now(), state.settings)
    users = [{"userId": user, "count": count} for user, count in sorted(by_user.items()) if user]
    return {"date": f"{day}T00:00:00Z", "total": total, "users": users}


def daily(state: Any) -> Response:
    """``GET /rest/v1/stats/usage.json`` (this call counted, as Marketo counts it)."""
    with state.lock:
        return ok([report(state)])


def add_calls(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /_sandbox/usage {"user": "crm-sync@example.com", "calls": 1200}``: today's report."""
    user, calls = body.get("user"), body.get("calls")
    if not isinstance(user, str) or "@" not in user:
        raise ValueError("user must be an API user's name, e.g. crm-sync@example.com")
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
        raise ValueError("calls must be an integer >= 1")
    with state.lock:
        state.limits.add_calls(state.clock.now(), state.settings, user, calls)
        return report(state)
