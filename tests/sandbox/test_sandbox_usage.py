"""Marketo's daily usage report: every API user's calls today, ours and other integrations'."""

from __future__ import annotations

import urllib.error
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from infra.sandbox.usage import api_user
from tests.sandbox_helpers import Caller, admin, configure, error_code, stats
from tests.services import Service

DESCRIBE = "/rest/v1/leads/describe.json"
USAGE = "/rest/v1/stats/usage.json"
OTHER = "crm-sync@example.com"


def test_the_report_counts_each_api_users_calls_today_and_this_call_too(sandbox: Service) -> None:
    caller = Caller(sandbox)
    for _ in range(3):
        assert caller.get_json(DESCRIBE)["success"] is True
    admin(sandbox, "POST", "/_sandbox/usage", {"user": OTHER, "calls": 1200})

    body = caller.get_json(USAGE)

    assert body["success"] is True
    (day,) = body["result"]
    ours = api_user(sandbox.extra["client_id"])
    assert day["total"] == 1204  # three describes, the other's 1200, and this call
    assert sorted(day["users"], key=lambda u: u["userId"]) == [
        {"userId": OTHER, "count": 1200},
        {"userId": ours, "count": 4},
    ]
    now = admin(sandbox, "GET", "/_sandbox/clock")["now"]
    chicago_day = datetime.fromtimestamp(now, ZoneInfo("America/Chicago")).date().isoformat()
    assert day["date"] == f"{chicago_day}T00:00:00Z"  # the quota's day
    assert stats(sandbox)["daily_calls_by_user"] == {OTHER: 1200, ours: 4}


def test_other_integrations_use_up_the_same_daily_quota(sandbox: Service) -> None:
    configure(sandbox, daily_quota=10)
    admin(sandbox, "POST", "/_sandbox/usage", {"user": OTHER, "calls": 9})
    caller = Caller(sandbox)
    assert caller.get_json(DESCRIBE)["success"] is True
    assert error_code(caller.get(DESCRIBE)) == "607"
    assert admin(sandbox, "GET", "/_sandbox/usage")["total"] == 10


def test_the_report_starts_afresh_each_quota_day(sandbox: Service) -> None:
    admin(sandbox, "POST", "/_sandbox/usage", {"user": OTHER, "calls": 50})
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 86_400})
    assert admin(sandbox, "GET", "/_sandbox/usage")["total"] == 0


@pytest.mark.parametrize(
    "body", [{"user": "no-at-sign", "calls": 5}, {"user": OTHER, "calls": 0}, {"calls": 5}]
)
def test_adding_calls_needs_a_user_name_and_a_positive_count(
    sandbox: Service, body: dict[str, object]
) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        admin(sandbox, "POST", "/_sandbox/usage", body)
    assert raised.value.code == 400
