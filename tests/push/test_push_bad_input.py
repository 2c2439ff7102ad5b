"""Bad pushes: each refused record named with its index, field and reason; the good ones queued.

Driven through the push step in this process, against the sandbox's describe and real Redis.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.push.push_helpers import RecordingScheduler, leads, push_runtime
from tests.services import Service
from workers.errors import InputError
from workers.objects import SPECS
from workers.pipeline.runtime import Runtime
from workers.push import api_choice
from workers.push.intake import push
from workers.push.queue import PushQueue

# How pydantic lists the object types a push may name (the registry's, in its order).
_NAMES = [repr(spec.name) for spec in SPECS]
KNOWN_TYPES = ", ".join(_NAMES[:-1]) + " or " + _NAMES[-1]


@pytest.fixture
def rt(redis_url: str, sandbox: Service, s3_client: Any, bucket: str) -> Runtime:
    return push_runtime(redis_url, sandbox, s3_client, bucket)


def _messages(answer: dict[str, Any]) -> list[str]:
    return [r["message"] for r in answer["refused"]]


def test_each_bad_record_is_refused_alone_and_the_good_ones_are_queued(rt: Runtime) -> None:
    records: list[Any] = [
        *leads(1),
        ["not", "an", "object"],
        {"email": "x@example.com", "emial": "typo"},
        {"email": "y@example.com", "leadScore": "high"},
        {"email": "z@example.com", "leadScore": 2.5},
        {"email": "w@example.com", "unsubscribed": "maybe"},
        {"email": "v@example.com", "dateOfBirth": "1 June"},
        {"email": 42},
        {"email": "u@example.com", "firstName": {"nested": True}},
        {"email": "t@example.com", "notes": "x" * 1_000_000},
        {"email": None},
        *leads(1, start=1),
    ]
    answer = push(rt, RecordingScheduler(), {"object": "leads", "records": records})
    assert answer["accepted"] == 2
    assert _messages(answer) == [
        "records[1]: is a list, not a JSON object",
        'records[2]: field emial: is not a field of leads (did you mean "email"?)',
        'records[3]: field leadScore: "high" is not an integer',
        "records[4]: field leadScore: 2.5 is not an integer",
        'records[5]: field unsubscribed: "maybe" is not a boolean (true/false, 1/0, yes/no)',
        'records[6]: field dateOfBirth: "1 June" is not a date (YYYY-MM-DD)',
        "records[7]: field email: is a number; the field's type is email",
        "records[8]: field firstName: is an object; the field's type is string",
        "records[9]: is 1,000,036 bytes as JSON; one record may be at most 999,952 bytes "
        "(a Data Ingestion request holds 1 MB)",
        "records[10]: has no field with a value",
    ]
    assert [r["index"] for r in answer["refused"]] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert answer["refused"][1]["field"] == "emial"
    queued = PushQueue(rt.redis, rt.settings.instance, answer["queue"]).read_new("t")
    assert [e.record["email"] for e in queued] == ["pushed0@example.com", "pushed1@example.com"]


def test_strings_a_file_would_hold_are_read_as_their_fields_types(rt: Runtime) -> None:
    record = {"email": "s@example.com", "leadScore": "7", "unsubscribed": "yes",
              "annualRevenue": "12.5", "dateOfBirth": "1990-02-03", "discountRate": 1}  # fmt: skip
    answer = push(rt, RecordingScheduler(), {"object": "leads", "records": [record]})
    assert answer["refused"] == []
    [entry] = PushQueue(rt.redis, rt.settings.instance, answer["queue"]).read_new("t")
    assert entry.record == {"email": "s@example.com", "leadScore": 7, "unsubscribed": True,
                            "annualRevenue": 12.5, "dateOfBirth": "1990-02-03",
                            "discountRate": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"object": "contacts", "records": [{}]},
         f"invalid push: object: Input should be {KNOWN_TYPES}"),
        ({"records": [{}]}, "invalid push: object: is required"),
        ({"object": "leads"}, "invalid push: records: is required (a list of JSON objects)"),
        ({"object": "leads", "records": {"email": "a@b.c"}},
         "invalid push: records: must be a list of JSON objects"),
        ({"object": "leads", "records": [{"email": "a@b.c"}] * 10_001},
         "invalid push: records: 10,001 records in one push, at most 10,000; push them in "
         "several"),
        ({"object": "leads", "records": [{}], "api": "soap"},
         'invalid push: api: must be "ingestion" or "bulk" (or left out: the Data Ingestion '
         "API when the instance is entitled to it, else bulk import)"),
        ({"object": "leads", "records": [{}], "maxAgeS": 0},
         "invalid push: maxAgeS: must be a number of seconds from 1 to 3600"),
        ({"object": "leads", "records": [{}], "source": "s3://b/k"},
         "invalid push: source: is not a known field"),
        ({"object": "customobjects", "records": [{}]},
         "invalid push: apiName: required when object is customobjects"),
        ({"object": "leads", "listId": "501", "records": [{}]},
         "invalid push: listId: Input should be a valid integer"),
        ({"object": "leads", "programId": 1002, "records": [{}]},
         "invalid push: programId: only applies when object is programmembers"),
    ],
)  # fmt: skip
def test_a_push_that_cannot_be_taken_as_a_whole_is_refused_naming_its_field(
    rt: Runtime, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError) as raised:
        push(rt, RecordingScheduler(), payload)
    assert str(raised.value) == message
    assert rt.redis.keys("mkto:push:*") == []


def test_program_members_through_the_data_ingestion_api_need_a_lead_id(rt: Runtime) -> None:
    payload = {"object": "programmembers", "programId": 1002, "programMemberStatus": "Member",
               "records": [{"leadId": 1}, {"email": "ann@example.com"}]}  # fmt: skip
    answer = push(rt, RecordingScheduler(), payload)
    assert answer["accepted"] == 1
    assert _messages(answer) == [
        "records[1]: field leadId: is required: the Data Ingestion API takes program members "
        "by leadId"
    ]
    bulk = push(rt, RecordingScheduler(), {**payload, "api": "bulk"})
    assert (bulk["accepted"], bulk["refused"]) == (2, [])


def test_ingestion_asked_of_an_instance_known_not_to_be_entitled_is_refused(
    rt: Runtime, sandbox: Service
) -> None:
    message = "POST /persons: Unauthorized (4030801): the instance is not entitled to the Data "
    message += "Ingestion API"
    api_choice.remember_not_entitled(rt.redis, rt.settings.instance, message)
    with pytest.raises(InputError) as raised:
        push(rt, RecordingScheduler(), {"object": "leads", "api": "ingestion", "records": leads(1)})
    assert str(raised.value) == (
        'invalid push: api: "ingestion": POST /persons: Unauthorized (4030801): the instance is '
        'not entitled to the Data Ingestion API; leave api out or push with "api": "bulk"'
    )
    answer = push(rt, RecordingScheduler(), {"object": "leads", "records": leads(1)})
    assert (answer["accepted"], answer["api"]) == (1, "bulk")


def test_ingestion_without_a_munchkin_id_is_refused(
    redis_url: str, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    rt = push_runtime(redis_url, sandbox, s3_client, bucket, marketo_munchkin_id=None)
    with pytest.raises(InputError, match=r'api: "ingestion" needs the instance\'s Munchkin id'):
        push(rt, RecordingScheduler(), {"object": "leads", "api": "ingestion", "records": leads(1)})


def test_companies_and_list_members_are_pushed_through_the_only_api_that_takes_them(
    rt: Runtime,
) -> None:
    from workers.push.request import parse_push

    pushed = parse_push({"object": "listmembers", "listId": 1001, "records": [{"leadId": 1}]})
    assert pushed.api == "ingestion"
    assert parse_push({"object": "companies", "records": [{"externalCompanyId": "c"}]}).api == (
        "ingestion"
    )


def test_a_pushed_company_has_one_of_marketos_two_keys_and_a_list_member_a_lead_id(
    rt: Runtime,
) -> None:
    companies = {"object": "companies", "records": [
        {"externalCompanyId": "C-1", "company": "Acme"},
        {"externalCompanyId": "C-2", "id": 7, "company": "Both"},
        {"company": "Neither"},
    ]}  # fmt: skip
    answer = push(rt, RecordingScheduler(), companies)
    assert answer["accepted"] == 1
    assert _messages(answer) == [
        "records[1]: field id: a company has id or externalCompanyId, not both (Marketo matches "
        "it on one: externalCompanyId, or id with dedupeBy idField)",
        "records[2]: field externalCompanyId: is required (or id, with dedupeBy idField): "
        "Marketo matches each company on it",
    ]
    members = {"object": "listmembers", "listId": 1001, "records": [{"leadId": 1}, {}]}
    answer = push(rt, RecordingScheduler(), members)
    assert answer["accepted"] == 1
    assert _messages(answer)[0].startswith("records[1]: ")
