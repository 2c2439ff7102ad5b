"""Sandbox lookups of static lists, partitions, programs and channels, over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.sandbox.config import ConfigError, Schema, default_config
from tests.sandbox_helpers import Caller, admin, error_code, errors, stats
from tests.services import Service

LIST = "/rest/v1/lists/{}.json"
PARTITIONS = "/rest/v1/leads/partitions.json"
PROGRAM = "/rest/asset/v1/program/{}.json"
CHANNEL = "/rest/asset/v1/channel/byName.json"
CHANNELS = "/rest/asset/v1/channels.json"
NO_ASSETS = ["No assets found for the given search criteria."]
REFERENCE = Path("/work/shared/reference/marketo-openapi/swagger-mapi.json")


def _properties(definition: str) -> set[str]:
    if not REFERENCE.exists():
        pytest.skip("Marketo's OpenAPI file is not on this machine")
    spec = json.loads(REFERENCE.read_text())
    return set(spec["definitions"][definition]["properties"])


def test_a_static_list_by_id_and_an_unknown_one(sandbox: Service) -> None:
    caller = Caller(sandbox)
    body = caller.get_json(LIST.format(501))
    assert body["success"] is True
    [found] = body["result"]
    assert (found["id"], found["name"]) == (501, "Bulk Import List")
    assert set(found) <= _properties("StaticList")

    missing = caller.get(LIST.format(1234))
    assert errors(missing) == [{"code": "1013", "message": "Static list '1234' not found"}]
    assert caller.get("/rest/v1/lists/abc.json").json()["errors"][0]["code"] == "610"


def test_lead_partitions_are_listed(sandbox: Service) -> None:
    body = Caller(sandbox).get_json(PARTITIONS)
    assert body["success"] is True
    assert [p["name"] for p in body["result"]] == ["Default", "EMEA"]
    assert [p["id"] for p in body["result"]] == [1, 2]
    assert set(body["result"][0]) <= _properties("LeadPartition")


def test_a_program_names_its_channel_and_the_channel_its_statuses(sandbox: Service) -> None:
    caller = Caller(sandbox)
    program = caller.get_json(PROGRAM.format(1001))
    assert program["success"] is True and program["warnings"] == [] and program["errors"] == []
    [found] = program["result"]
    assert (found["id"], found["name"], found["channel"]) == (1001, "Webinar 2026", "Webinar")

    channel = caller.get_json(CHANNEL, name="Webinar")
    [webinar] = channel["result"]
    assert webinar["applicableProgramType"] == "event"
    statuses = [(s["name"], s["step"], s["success"]) for s in webinar["progressionStatuses"]]
    assert statuses == [
        ("Not in Program", 0, False),
        ("Invited", 10, False),
        ("Registered", 20, False),
        ("No Show", 30, False),
        ("Attended", 30, True),
    ]
    names = [c["name"] for c in caller.get_json(CHANNELS, maxReturn=2)["result"]]
    assert names == ["Webinar", "List Import"]
    assert [c["name"] for c in caller.get_json(CHANNELS, offset=2)["result"]] == ["Live Event"]


def test_unknown_programs_and_channels_are_an_empty_success_with_a_warning(
    sandbox: Service,
) -> None:
    caller = Caller(sandbox)
    for body in (caller.get_json(PROGRAM.format(4242)), caller.get_json(CHANNEL, name="Radio")):
        assert body["success"] is True
        assert body["warnings"] == NO_ASSETS
        assert "result" not in body
    assert error_code(caller.get(CHANNEL)) == "701"


def test_the_member_import_accepts_exactly_the_channels_statuses(sandbox: Service) -> None:
    caller = Caller(sandbox)
    [channel] = caller.get_json(CHANNEL, name="Webinar")["result"]
    path = "/bulk/v1/program/1001/members/import.json"
    for status in (s["name"] for s in channel["progressionStatuses"]):
        created = caller.upload(path, "email\na@example.com\n", programMemberStatus=status)
        assert created.json()["success"] is True, (status, created.text)
    refused = caller.upload(path, "email\na@example.com\n", programMemberStatus="Atended")
    assert errors(refused) == [{"code": "1025", "message": "Program status 'Atended' not found"}]


def test_lookups_need_a_token_and_count_like_every_call(sandbox: Service) -> None:
    anonymous = requests.get(sandbox.url + PARTITIONS, timeout=10).json()
    assert anonymous["errors"][0]["code"] == "600"
    caller = Caller(sandbox)
    caller.get_json(PARTITIONS)
    caller.get_json(PROGRAM.format(1002))
    caller.get(LIST.format(9))
    counters = stats(sandbox)
    assert counters["daily_calls"] == 3  # the call without a token is not counted against it
    assert counters["calls_by_endpoint"]["GET /rest/v1/leads/partitions.json"] == 2
    assert counters["calls_by_endpoint"]["GET /rest/asset/v1/program/{id}.json"] == 1
    assert counters["calls_by_endpoint"]["GET /rest/v1/lists/{listId}.json"] == 1
    assert counters["calls_by_code"]["1013"] == 1
    assert counters["calls_by_code"]["600"] == 1


def test_faults_are_injected_into_lookups(sandbox: Service) -> None:
    caller = Caller(sandbox)
    caller.token()
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "606", "path_prefix": "/rest/asset/"})
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "503", "path_prefix": "/rest/v1/lists/"})
    assert error_code(caller.get(PROGRAM.format(1001))) == "606"
    assert caller.get(LIST.format(501)).status_code == 503
    assert caller.get_json(PROGRAM.format(1001))["result"][0]["channel"] == "Webinar"
    assert caller.get_json(LIST.format(501))["result"][0]["id"] == 501


def _schema(programs: list[dict[str, Any]], channels: list[dict[str, Any]]) -> Schema:
    data = default_config()
    data["program_members"] = {**data["program_members"], "programs": programs,
                               "channels": channels}  # fmt: skip
    return Schema.from_json(data)


def test_config_programs_take_their_channels_statuses() -> None:
    legacy = _schema([{"id": 7, "name": "Old", "channel": "Print", "statuses": ["Sent"]}], [])
    assert legacy.programs[7].statuses == ("Sent",)
    assert legacy.channels["Print"].status_names == ("Sent",)
    with pytest.raises(ConfigError, match="program 7: unknown channel 'Radio'"):
        _schema([{"id": 7, "name": "Ad", "channel": "Radio"}], [])
    webinar = {"name": "Web", "progressionStatuses": [{"name": "Attended", "step": 1}]}
    with pytest.raises(ConfigError, match="program 8: statuses differ from those of channel"):
        _schema([{"id": 8, "name": "W", "channel": "Web", "statuses": ["Gone"]}], [webinar])
