"""Sandbox Data Ingestion API: each validation rule of data-ingestion.md, with its exact answer.

A body that cannot be read is 400 ``4000801 Bad request``; one that breaks a
documented rule is 400 ``4000802 Invalid data``; the sandbox appends what was
wrong after ``: ``. A refused request is never applied.

Long on purpose: one case per documented validation rule, read as the table of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox_helpers import Ingester, admin, drain, refusal
from tests.services import Service

PERSON = {"email": "a@example.com"}
MEMBER = {"leadId": 1}
CAR = {"vin": "V1"}

INVALID: list[tuple[str, Any, str]] = [
    # persons
    ("persons", {}, "persons must not be null or empty"),
    ("persons", {"persons": None}, "persons must not be null or empty"),
    ("persons", {"persons": []}, "persons must not be null or empty"),
    ("persons", {"persons": PERSON}, "persons must be an array"),
    ("persons", {"persons": [PERSON, "b@example.com"]}, "persons[1] must be an object"),
    ("persons", {"persons": [PERSON], "person": []}, "unknown key 'person'"),
    (
        "persons",
        {"priority": "urgent", "persons": [PERSON]},
        "priority must be one of normal, high",
    ),
    ("persons", {"partitionName": "APAC", "persons": [PERSON]}, "partitionName 'APAC' not found"),
    (
        "persons",
        {"dedupeFields": "email", "persons": [PERSON]},
        "dedupeFields must be an object with field1 and optional field2",
    ),
    (
        "persons",
        {"dedupeFields": {"field2": "email"}, "persons": [PERSON]},
        "dedupeFields.field1 is required",
    ),
    (
        "persons",
        {"dedupeFields": {"field1": "email", "field3": "city"}, "persons": [PERSON]},
        "unknown key 'dedupeFields.field3'",
    ),
    (
        "persons",
        {"dedupeFields": {"field1": "unsubscribed"}, "persons": [PERSON]},
        "dedupeFields.field1 'unsubscribed' is not a lead field to deduplicate on",
    ),
    (
        "persons",
        {"dedupeFields": {"field1": "email", "field2": "shoeSize"}, "persons": [PERSON]},
        "dedupeFields.field2 'shoeSize' is not a lead field to deduplicate on",
    ),
    (
        "persons",
        {"dedupeFields": {"field1": "email", "field2": "email"}, "persons": [PERSON]},
        "dedupeFields.field2 repeats field1",
    ),
    # custom objects
    ("customobjects/car_c", {}, "customObjects must not be null or empty"),
    (
        "customobjects/car_c",
        {"dedupeBy": "vin", "customObjects": [CAR]},
        "dedupeBy must be one of dedupeFields, marketoGUID",
    ),
    (
        "customobjects/car_c",
        {"priority": "low", "customObjects": [CAR]},
        "priority must be one of normal, high",
    ),
    # companies ("Companies validation rules")
    (
        "companies",
        {"action": "upsert", "input": [{"externalCompanyId": "e1"}]},
        "action must be one of createOnly, updateOnly, createOrUpdate",
    ),
    (
        "companies",
        {"action": "createonly", "input": [{"externalCompanyId": "e1"}]},
        "action must be one of createOnly, updateOnly, createOrUpdate",
    ),
    (
        "companies",
        {"dedupeBy": "byId", "input": [{"externalCompanyId": "e1"}]},
        "dedupeBy must be one of dedupeFields, idField",
    ),
    (
        "companies",
        {"dedupeBy": "idField", "input": [{"id": 1}]},
        "dedupeBy idField is only allowed with action updateOnly, not createOrUpdate",
    ),
    (
        "companies",
        {"action": "createOnly", "dedupeBy": "idfield", "input": [{"id": 1}]},
        "dedupeBy idField is only allowed with action updateOnly, not createOnly",
    ),
    (
        "companies",
        {"input": [{"company": "Acme"}]},
        "input[0].externalCompanyId is required with dedupeBy dedupeFields",
    ),
    (
        "companies",
        {"input": [{"externalCompanyId": " "}]},
        "input[0].externalCompanyId is required with dedupeBy dedupeFields",
    ),
    (
        "companies",
        {"companies": [{"externalCompanyId": "e1", "id": 4}]},
        "companies[0].id is not allowed with dedupeBy dedupeFields",
    ),
    (
        "companies",
        {"action": "updateOnly", "dedupeBy": "idField", "input": [{"company": "A"}]},
        "input[0].id is required with dedupeBy idField",
    ),
    (
        "companies",
        {"action": "updateOnly", "dedupeBy": "idField", "input": [{"id": "7"}]},
        "input[0].id must be a positive integer",
    ),
    (
        "companies",
        {
            "action": "updateOnly",
            "dedupeBy": "idField",
            "input": [{"id": 7, "externalCompanyId": "e1"}],
        },
        "input[0].externalCompanyId is not allowed with dedupeBy idField",
    ),
    (
        "companies",
        {"input": [], "companies": [{"externalCompanyId": "e1"}]},
        "body has both 'input' and 'companies'; give one",
    ),
    ("companies", {"input": []}, "input must not be null or empty"),
    ("companies", {"companies": None}, "companies must not be null or empty"),
    # program members sync ("Program Members sync validation rules")
    ("programmembers", {}, "programs must not be null or empty"),
    ("programmembers", {"programs": []}, "programs must not be null or empty"),
    (
        "programmembers",
        {"programs": [{"status": "Invited", "members": [MEMBER]}]},
        "programs[0].programId is required",
    ),
    *[
        (
            "programmembers",
            {"programs": [{"programId": bad, "status": "Invited", "members": [MEMBER]}]},
            "programs[0].programId must be a positive integer",
        )
        for bad in (0, -3, "1001", 1.5, True)
    ],
    (
        "programmembers",
        {"programs": [{"programId": 1001, "members": [MEMBER]}]},
        "programs[0].status is required",
    ),
    (
        "programmembers",
        {"programs": [{"programId": 1001, "status": " ", "members": [MEMBER]}]},
        "programs[0].status must not be blank",
    ),
    (
        "programmembers",
        {"programs": [{"programId": 1001, "statusName": "NOT IN PROGRAM", "members": [MEMBER]}]},
        "programs[0].statusName must not be 'Not in Program'; use programmembers/delete",
    ),
    (
        "programmembers",
        {
            "programs": [
                {
                    "programId": 1001,
                    "status": "Invited",
                    "statusName": "Invited",
                    "members": [MEMBER],
                }
            ]
        },
        "programs[0] has both 'status' and 'statusName'; give one",
    ),
    (
        "programmembers",
        {"programs": [{"programId": 1001, "status": "Invited"}]},
        "programs[0].members must not be null or empty",
    ),
    (
        "programmembers",
        {"programs": [{"programId": 1001, "status": "Invited", "input": []}]},
        "programs[0].input must not be null or empty",
    ),
    (
        "programmembers",
        {
            "programs": [
                {"programId": 1001, "status": "Invited", "members": [{"email": "a@example.com"}]}
            ]
        },
        "programs[0].members[0].leadId is required",
    ),
    (
        "programmembers",
        {"programs": [{"programId": 1001, "status": "Invited", "members": [{"leadId": "12"}]}]},
        "programs[0].members[0].leadId must be a positive integer",
    ),
    (
        "programmembers",
        {
            "programs": [
                {"programId": 1001, "status": "Invited", "members": [MEMBER], "reason": "x"}
            ]
        },
        "unknown key 'programs[0].reason'",
    ),
    # program members delete ("Program Members delete validation rules")
    ("programmembers/delete", {"programs": []}, "programs must not be null or empty"),
    (
        "programmembers/delete",
        {"programs": [{"members": [MEMBER]}]},
        "programs[0].programId is required",
    ),
    (
        "programmembers/delete",
        {"programs": [{"programId": 1001, "status": "Invited", "members": [MEMBER]}]},
        "unknown key 'programs[0].status'",
    ),
    (
        "programmembers/delete",
        {"programs": [{"programId": 1001, "members": []}]},
        "programs[0].members must not be null or empty",
    ),
    (
        "programmembers/delete",
        {"programs": [{"programId": 1001, "members": [{}]}]},
        "programs[0].members[0].leadId is required",
    ),
    (
        "programmembers/delete",
        {"programs": [{"programId": 1001, "members": [{"leadId": 1, "note": "x"}]}]},
        "unknown key 'programs[0].members[0].note'",
    ),
    # lists ("Lists add to list / remove from list validation rules")
    ("lists", {"leads": [MEMBER]}, "listId is required"),
    ("lists", {"listId": 0, "leads": [MEMBER]}, "listId must be a positive integer"),
    ("lists", {"listId": "501", "leads": [MEMBER]}, "listId must be a positive integer"),
    ("lists", {"listId": 501}, "leads must not be null or empty"),
    ("lists", {"listId": 501, "leads": []}, "leads must not be null or empty"),
    ("lists", {"listId": 501, "input": [{}]}, "input[0].leadId is required"),
    (
        "lists",
        {"listId": 501, "leads": [{"leadId": 1, "id": 1}]},
        "leads[0] has both 'leadId' and 'id'; give one",
    ),
    ("lists", {"listId": 501, "leads": [{"id": -1}]}, "leads[0].id must be a positive integer"),
    (
        "lists",
        {"listId": 501, "leads": [{"leadId": 1, "email": "a@example.com"}]},
        "unknown key 'leads[0].email'",
    ),
    ("lists/remove", {"listId": -5, "leads": [MEMBER]}, "listId must be a positive integer"),
    ("lists/remove", {"listId": 501, "leads": None}, "leads must not be null or empty"),
    ("lists/remove", {"listId": 501, "leads": [{"leadId": None}]}, "leads[0].leadId is required"),
]


@pytest.mark.parametrize(("resource", "body", "detail"), INVALID)
def test_a_rule_broken_is_400_invalid_data(
    sandbox: Service, resource: str, body: Any, detail: str
) -> None:
    response = Ingester(sandbox).post(resource, body)
    assert refusal(response) == (
        400,
        {"error_code": "4000802", "message": f"Invalid data: {detail}"},
    )
    assert drain(sandbox) == 0


UNREADABLE: list[tuple[bytes, dict[str, str], str]] = [
    (b"[]", {}, "body must be a JSON object"),
    (b'"persons"', {}, "body must be a JSON object"),
    (
        b'{"persons": [{"email": "a@example.com"}]}',
        {"Content-Type": "text/plain"},
        "Content-Type must be application/json",
    ),
    (
        b'{"persons": [{"email": "a@example.com"}]}',
        {"Content-Type": "application/x-www-form-urlencoded"},
        "Content-Type must be application/json",
    ),
]


@pytest.mark.parametrize(("data", "headers", "detail"), UNREADABLE)
def test_a_body_that_cannot_be_read_is_400_bad_request(
    sandbox: Service, data: bytes, headers: dict[str, str], detail: str
) -> None:
    response = Ingester(sandbox).post("persons", data=data, headers=headers)
    assert refusal(response) == (
        400,
        {"error_code": "4000801", "message": f"Bad request: {detail}"},
    )


@pytest.mark.parametrize(
    "data",
    [b"", b"{nope", b'{"persons": [{"leadScore": NaN}]}', b"\xff\xfe{}", b'{"a": 1'],
    ids=["empty", "broken", "nan", "not-utf8", "truncated"],
)
def test_a_body_that_is_not_json_is_400_bad_request(sandbox: Service, data: bytes) -> None:
    status, body = refusal(Ingester(sandbox).post("persons", data=data))
    assert (status, body["error_code"]) == (400, "4000801")
    assert body["message"].startswith("Bad request: body is not valid JSON (")


def test_refused_requests_are_listed_with_their_answer_and_never_applied(
    sandbox: Service,
) -> None:
    ingester = Ingester(sandbox)
    response = ingester.post("lists", {"listId": 0, "leads": [MEMBER]})
    request_id = response.headers["X-Request-Id"]
    entry = admin(sandbox, "GET", f"/_sandbox/ingestion/requests/{request_id}")
    assert (entry["status"], entry["http_status"], entry["error_code"], entry["objects"]) == (
        "rejected",
        400,
        "4000802",
        0,
    )
    assert entry["message"] == "Invalid data: listId must be a positive integer"
    assert admin(sandbox, "GET", "/_sandbox/ingestion/stats")["objects_today"] == 0
