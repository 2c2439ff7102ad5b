"""Lookups of lists, partitions, programs and channels, and the load parameter check they feed."""

from __future__ import annotations

import json
import logging
import pickle

import pytest

from tests.marketo_helpers import make_client
from tests.sandbox_helpers import admin
from tests.services import Service
from workers.errors import MarketoPermanentError, ParameterError
from workers.marketo import Channel, ImportTarget, MarketoClient, Program, StaticList
from workers.marketo.config import LOOKUP_TTL_S
from workers.objects import REGISTRY
from workers.objects.custom_objects import CustomObjectImport
from workers.objects.leads import LeadImport
from workers.objects.program_members import ProgramMemberImport

PARTITIONS = "GET /rest/v1/leads/partitions.json"
LIST = "GET /rest/v1/lists/{listId}.json"
PROGRAM = "GET /rest/asset/v1/program/{id}.json"
CHANNEL = "GET /rest/asset/v1/channel/byName.json"


@pytest.fixture
def client(sandbox: Service, redis_url: str) -> MarketoClient:
    return make_client(sandbox, redis_url)


def check_parameters(client: MarketoClient, target: ImportTarget) -> None:
    """What the split runs before anything is split: the target's own spec checks it."""
    REGISTRY[target.kind].check_parameters(client, target)


def calls_to(sandbox: Service, endpoint: str) -> int:
    return int(admin(sandbox, "GET", "/_sandbox/stats")["calls_by_endpoint"].get(endpoint, 0))


def test_lookups_read_marketos_answers(client: MarketoClient) -> None:
    assert client.static_list(501) == StaticList(501, "Bulk Import List")
    assert client.static_list(1234) is None
    assert client.lead_partitions() == ("Default", "EMEA")
    assert client.program(1001) == Program(1001, "Webinar 2026", "Webinar")
    assert client.program(4242) is None
    webinar = ("Not in Program", "Invited", "Registered", "No Show", "Attended")
    assert client.channel("Webinar") == Channel("Webinar", webinar)
    assert client.channel("Radio") is None


def test_answers_that_found_something_are_cached_for_an_hour(
    client: MarketoClient, sandbox: Service
) -> None:
    for _ in range(3):
        client.program(1001)
        client.static_list(1234)
    assert calls_to(sandbox, PROGRAM) == 1
    assert calls_to(sandbox, LIST) == 3, "a miss is never cached: the list may be created soon"
    assert client.counters()["lookup_cache_hits"] == 2
    ttl = client.redis.ttl("mkto:test-instance:lookup:/rest/asset/v1/program/1001.json")
    assert LOOKUP_TTL_S - 5 <= ttl <= LOOKUP_TTL_S
    assert client.forget_lookups() == 1
    client.program(1001)
    assert calls_to(sandbox, PROGRAM) == 2


def test_a_transient_error_is_retried_like_any_call(
    client: MarketoClient, sandbox: Service
) -> None:
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "503", "count": 2,
                                                "path_prefix": "/rest/asset/"})  # fmt: skip
    assert client.program(1002) == Program(1002, "Lannister Nurture", "List Import")
    counters = client.counters()
    assert counters["retries"] == 2
    assert counters["code:503"] == 2


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (LeadImport(list_id=1234), "listId 1234: no such static list in Marketo"),
        (
            LeadImport(partition_name="APAC"),
            'partitionName "APAC": not a lead partition (known: Default, EMEA)',
        ),
        (
            LeadImport(partition_name="emea"),
            'partitionName "emea": not a lead partition (did you mean "EMEA"?)',
        ),
        (ProgramMemberImport(4242, "Attended"), "programId 4242: no such program in Marketo"),
        (
            ProgramMemberImport(1001, "Atended"),
            'programMemberStatus "Atended": not a status of program 1001\'s channel '
            '(did you mean "Attended"?)',
        ),
        (
            ProgramMemberImport(1002, "Gold"),
            'programMemberStatus "Gold": not a status of program 1002\'s channel '
            "(known: Not in Program, On List)",
        ),
    ],
)
def test_a_bad_parameter_is_named_with_its_value_and_reason(
    client: MarketoClient, target: ImportTarget, message: str
) -> None:
    with pytest.raises(ParameterError) as raised:
        check_parameters(client, target)
    assert str(raised.value) == message
    again = pickle.loads(pickle.dumps(raised.value))
    assert (str(again), again.field) == (message, raised.value.parameter)


def test_good_parameters_pass_with_one_call_each_then_none(
    client: MarketoClient, sandbox: Service
) -> None:
    targets: list[ImportTarget] = [
        LeadImport(list_id=501, partition_name="EMEA"),
        ProgramMemberImport(1001, "Attended"),
        CustomObjectImport("car_c"),
    ]
    for _ in range(2):
        for target in targets:
            check_parameters(client, target)
    assert [calls_to(sandbox, e) for e in (LIST, PARTITIONS, PROGRAM, CHANNEL)] == [1, 1, 1, 1]


def test_a_value_missing_from_a_cached_answer_is_looked_up_afresh(
    client: MarketoClient, sandbox: Service
) -> None:
    # Cached before the EMEA partition was created: the check asks Marketo again.
    key = "mkto:test-instance:lookup:/rest/v1/leads/partitions.json"
    client.redis.set(key, json.dumps([{"id": 1, "name": "Default"}]), ex=60)
    check_parameters(client, LeadImport(partition_name="EMEA"))
    assert calls_to(sandbox, PARTITIONS) == 1
    assert client.lead_partitions() == ("Default", "EMEA")


def test_a_lookup_the_api_user_may_not_make_is_skipped_with_a_warning(
    client: MarketoClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def denied(program_id: int, *, fresh: bool = False) -> Program | None:
        raise MarketoPermanentError("603", "Access denied")

    monkeypatch.setattr(client, "program", denied)
    with caplog.at_level(logging.WARNING, logger="workers.marketo.lookups"):
        check_parameters(client, ProgramMemberImport(1001, "Atended"))
    assert (
        "cannot check programId/programMemberStatus before the import "
        "(Marketo 603: Access denied); the import will check it" in caplog.text
    )
