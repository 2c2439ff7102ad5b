"""The sandbox's Data Ingestion answers against Marketo's OpenAPI (swagger-data-ingestion.json).

The reference file is not read here (CI has no copy): its operations, their
headers, example bodies and response shapes are written down below from it,
with the error table of data-ingestion.md.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox_helpers import Ingester, admin, drain
from tests.services import Service

# operationId: (path after /subscriptions/{munchkinId}/, the example request body)
OPERATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "syncPersons": ("persons", {
        "priority": "high", "partitionName": "EMEA",
        "dedupeFields": {"field1": "email", "field2": "firstName"},
        "persons": [
            {"email": "brooklyn.parker@karnv.com", "firstName": "Brooklyn", "lastName": "Parker",
             "company": "Karnv"},
            {"email": "johnny.neal@yvu30.com", "firstName": "Johnny", "lastName": "Neal",
             "company": "Acme Inc"}]}),
    "syncCustomObjects": ("customobjects/car_c", {
        "dedupeBy": "dedupeFields", "priority": "high",
        "customObjects": [
            {"email": "brooklyn.parker@karnv.com", "vin": "20UYA31581L000000", "make": "BMW",
             "model": "3-Series 330i", "year": 2003},
            {"email": "johnny.neal@yvu30.com", "vin": "19UYA31581L000000", "make": "BMW",
             "model": "3-Series 325i", "year": 1989}]}),
    "syncCompanies": ("companies", {
        "action": "createOrUpdate", "dedupeBy": "dedupeFields",
        "input": [
            {"externalCompanyId": "ext-company-001", "company": "Acme Corporation",
             "industry": "Technology", "numberOfEmployees": 5000, "annualRevenue": 100000000},
            {"externalCompanyId": "ext-company-002", "company": "Globex Industries",
             "industry": "Manufacturing", "numberOfEmployees": 1200}]}),
    "syncProgramMembers": ("programmembers", {"programs": [
        {"programId": 1001, "status": "Member",
         "members": [{"leadId": 10001}, {"leadId": 10002}]},
        {"programId": 1002, "status": "Influenced", "members": [{"leadId": 10003}]}]}),
    "deleteProgramMembers": ("programmembers/delete", {"programs": [
        {"programId": 1001, "members": [{"leadId": 10001}, {"leadId": 10002}]},
        {"programId": 1002, "members": [{"leadId": 10003}]}]}),
    "addToList": ("lists", {"listId": 1064, "input": [
        {"leadId": 10001}, {"leadId": 10002}, {"leadId": 10003}]}),
    "removeFromList": ("lists/remove", {"listId": 1064, "input": [
        {"leadId": 10001}, {"leadId": 10002}]}),
}  # fmt: skip
# Every operation documents these responses; 202 carries X-Request-Id and no body, the
# errors an ErrorResponse: {"error_code": string, "message": string}.
DOCUMENTED_RESPONSES = {"202", "400", "401"}
ERROR_RESPONSE_PROPERTIES = {"error_code": str, "message": str}
# data-ingestion.md, "Error": (HTTP status, error_code, message).
ERROR_TABLE = {
    (401, "401013", "Oauth token is invalid"),
    (403, "403010", "Oauth token is missing"),
    (404, "404040", "Resource not found"),
    (429, "429001", "Service usage limit reached"),
    (400, "4000801", "Bad request"),
    (400, "4000802", "Invalid data"),
    (403, "4030801", "Unauthorized"),
    (429, "4290801", "Daily quota reached"),
    (500, "5000801", "Internal Server Error"),
}
TRACE_HEADERS = {"X-Correlation-Id": "conformance-1", "X-Request-Source": "mkto-bulk-tests"}


def _check_error(response: Any) -> tuple[int, str]:
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Request-Id"]
    body = response.json()
    assert {k: type(v) for k, v in body.items()} == ERROR_RESPONSE_PROPERTIES
    documented = {(s, c): m for s, c, m in ERROR_TABLE}
    message = documented[(response.status_code, body["error_code"])]
    assert body["message"] == message or body["message"].startswith(f"{message}: ")
    return response.status_code, body["error_code"]


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_documented_responses_of_each_operation(sandbox: Service, operation: str) -> None:
    resource, example = OPERATIONS[operation]
    ingester = Ingester(sandbox)
    accepted = ingester.post(resource, example, headers=TRACE_HEADERS)
    assert str(accepted.status_code) in DOCUMENTED_RESPONSES
    assert accepted.status_code == 202
    assert accepted.content == b"" and accepted.headers["Content-Length"] == "0"
    assert "Content-Type" not in accepted.headers
    request_id = accepted.headers["X-Request-Id"]
    bad = ingester.post(resource, {})
    assert _check_error(bad) == (400, "4000802")
    wrong_token = ingester.post(resource, example, headers={"X-Mkto-User-Token": "x:ab"})
    assert _check_error(wrong_token) == (401, "401013")
    drain(sandbox)
    entry = admin(sandbox, "GET", f"/_sandbox/ingestion/requests/{request_id}")
    assert (entry["correlation_id"], entry["request_source"]) == (
        TRACE_HEADERS["X-Correlation-Id"], TRACE_HEADERS["X-Request-Source"],
    )  # fmt: skip
    assert entry["objects"] == entry["applied"] + entry["failed"] > 0


def test_every_refusal_the_sandbox_gives_is_in_the_documented_error_table(
    sandbox: Service,
) -> None:
    ingester = Ingester(sandbox)
    seen = {
        _check_error(ingester.post("persons", {})),
        _check_error(ingester.post("persons", data=b"{")),
        _check_error(ingester.post("persons", {}, token=False)),
        _check_error(ingester.post("persons", {}, headers={"X-Mkto-User-Token": "x:ab"})),
        _check_error(ingester.post("people", {})),
    }
    admin(sandbox, "PATCH", "/_sandbox/config", {"ingestion": {"daily_objects": 0}})
    seen.add(_check_error(ingester.post("persons", {"persons": [{"email": "q@example.com"}]})))
    admin(sandbox, "PATCH", "/_sandbox/config", {"ingestion": {"requests_per_second": 1}})
    answers = [ingester.post("persons", {}) for _ in range(3)]  # 3 calls within one second
    seen.add(_check_error(next(a for a in answers if a.status_code == 429)))
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "500", "count": 1})
    seen.add(_check_error(ingester.post("persons", {})))
    admin(sandbox, "PATCH", "/_sandbox/config", {"ingestion": {"entitled": False}})
    seen.add(_check_error(ingester.post("persons", {})))
    assert seen == {(status, code) for status, code, _ in ERROR_TABLE}
