"""Sandbox describe endpoints and response shapes, checked against the OpenAPI field names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox_helpers import Caller
from tests.services import Service

# Property names from Marketo's swagger-mapi.json / swagger-identity.json (definitions).
SWAGGER = {
    "LeadAttribute": {"dataType", "displayName", "id", "length", "rest", "soap"},
    "LeadMapAttribute": {"name", "readOnly"},
    "LeadAttribute2": {"name", "searchableFields", "fields"},
    "LeadAttribute2Fields": {
        "name", "displayName", "dataType", "length", "updateable", "crmManaged",
    },
    "ObjectMetaData": {
        "createdAt", "dedupeFields", "description", "displayName", "pluralName", "fields",
        "idField", "apiName", "relationships", "searchableFields", "updatedAt", "state", "version",
    },
    "ObjectField": {"dataType", "displayName", "length", "name", "updateable", "crmManaged"},
    "ProgramMemberAttribute": {"name", "fields"},
    "ProgramMemberAttribute2": {
        "name", "description", "createdAt", "updatedAt", "dedupeFields", "searchableFields",
        "fields",
    },
    "ImportLeadResponse": {
        "batchId", "importId", "message", "numOfLeadsProcessed", "numOfRowsFailed",
        "numOfRowsWithWarning", "status",
    },
    "ImportCustomObjectResponse": {
        "batchId", "importTime", "message", "numOfObjectsProcessed", "numOfRowsFailed",
        "numOfRowsWithWarning", "objectApiName", "operation", "status",
    },
    "ImportProgramMemberResponse": {"batchId", "importId", "status"},
}  # fmt: skip
REQUIRED = {
    "LeadAttribute": {"dataType", "displayName", "id"},
    "LeadAttribute2Fields": {"name", "displayName", "dataType", "updateable", "crmManaged"},
    "ImportLeadResponse": {"batchId", "numOfLeadsProcessed", "status"},
    "ImportCustomObjectResponse": {"batchId", "objectApiName", "operation", "status"},
    # "status" is required but not among the properties; "state" is not required.
    "ObjectMetaData": {
        "createdAt", "dedupeFields", "description", "displayName", "pluralName", "fields",
        "idField", "apiName", "relationships", "searchableFields", "updatedAt", "status", "version",
    },
}  # fmt: skip
# The approval states of an object type ("state" in ObjectMetaData).
APPROVAL_STATES = {"draft", "approved", "approvedWithDraft"}
REFERENCE = Path("/work/shared/reference/marketo-openapi/swagger-mapi.json")


def result(caller: Caller, path: str) -> list[dict[str, Any]]:
    body = caller.get_json(path)
    assert body["success"] is True
    assert set(body) == {"requestId", "result", "success"}
    items: list[dict[str, Any]] = body["result"]
    return items


def test_lead_describe(sandbox: Service) -> None:
    fields = result(Caller(sandbox), "/rest/v1/leads/describe.json")
    by_name = {f["rest"]["name"]: f for f in fields}
    assert {"id", "email", "firstName", "leadScore", "crmId"} <= set(by_name)
    for field in fields:
        assert REQUIRED["LeadAttribute"] <= set(field) <= SWAGGER["LeadAttribute"]
        assert set(field["rest"]) == SWAGGER["LeadMapAttribute"]
    assert by_name["email"]["dataType"] == "email"
    assert by_name["email"]["length"] == 255
    assert by_name["id"]["rest"]["readOnly"] is True
    assert len({f["id"] for f in fields}) == len(fields)


def test_lead_describe2(sandbox: Service) -> None:
    [lead] = result(Caller(sandbox), "/rest/v1/leads/describe2.json")
    assert set(lead) == SWAGGER["LeadAttribute2"]
    assert lead["name"] == "API Lead"
    assert ["email"] in lead["searchableFields"]
    for field in lead["fields"]:
        assert REQUIRED["LeadAttribute2Fields"] <= set(field) <= SWAGGER["LeadAttribute2Fields"]
    score = next(f for f in lead["fields"] if f["name"] == "leadScore")
    assert score == {"name": "leadScore", "displayName": "Lead Score", "dataType": "integer",
                     "updateable": True, "crmManaged": False}  # fmt: skip


def test_custom_object_describe(sandbox: Service) -> None:
    [car] = result(Caller(sandbox), "/rest/v1/customobjects/car_c/describe.json")
    shape = SWAGGER["ObjectMetaData"] | REQUIRED["ObjectMetaData"]
    assert REQUIRED["ObjectMetaData"] <= set(car) - {"name"} <= shape
    assert car["name"] == "car_c"
    assert car["status"] == car["state"] == car["version"] == "approved"
    assert car["idField"] == "marketoGUID"
    assert car["dedupeFields"] == ["vin"]
    assert car["searchableFields"] == [["vin"], ["marketoGUID"]]
    names = [f["name"] for f in car["fields"]]
    assert names[:3] == ["createdAt", "marketoGUID", "updatedAt"]
    assert {"color", "make", "model", "vin"} <= set(names)
    for field in car["fields"]:
        assert set(field) <= SWAGGER["ObjectField"]
    [order] = result(Caller(sandbox), "/rest/v1/customobjects/order_line_c/describe.json")
    assert order["dedupeFields"] == ["orderId", "lineNumber"]


def test_company_describe(sandbox: Service) -> None:
    [company] = result(Caller(sandbox), "/rest/v1/companies/describe.json")
    shape = SWAGGER["ObjectMetaData"] | REQUIRED["ObjectMetaData"]
    assert REQUIRED["ObjectMetaData"] <= set(company) - {"name"} <= shape
    assert company["idField"] == "id"
    assert company["dedupeFields"] == ["externalCompanyId"]
    assert ["externalCompanyId"] in company["searchableFields"]
    by_name = {f["name"]: f for f in company["fields"]}
    assert {"id", "externalCompanyId", "company", "numberOfEmployees", "annualRevenue"} <= set(
        by_name
    )
    assert by_name["id"]["dataType"] == "integer" and by_name["id"]["updateable"] is False
    assert by_name["numberOfEmployees"]["dataType"] == "integer"
    assert by_name["externalCompanyId"]["length"] == 100
    for field in company["fields"]:
        assert set(field) <= SWAGGER["ObjectField"]


def test_program_member_describe(sandbox: Service) -> None:
    caller = Caller(sandbox)
    [member] = result(caller, "/rest/v1/programs/members/describe.json")
    assert set(member) == SWAGGER["ProgramMemberAttribute2"]
    assert member["name"] == "API Program Member"
    names = {f["name"] for f in member["fields"]}
    assert {"leadId", "programId", "statusName", "registrationCode"} <= names
    [older] = result(caller, "/rest/v1/program/members/describe.json")
    assert set(older) == SWAGGER["ProgramMemberAttribute"]


def test_status_shapes_use_swagger_names(sandbox: Service) -> None:
    caller = Caller(sandbox)
    lead = caller.submit("/bulk/v1/leads.json", "email\na@example.com\n", format="csv")
    status = caller.wait_done(f"/bulk/v1/leads/batch/{lead}.json")
    assert REQUIRED["ImportLeadResponse"] <= set(status) <= SWAGGER["ImportLeadResponse"]
    car = caller.submit("/bulk/v1/customobjects/car_c/import.json", "vin\nV\n", format="csv")
    status = caller.wait_done(f"/bulk/v1/customobjects/car_c/import/{car}/status.json")
    assert set(status) == SWAGGER["ImportCustomObjectResponse"]
    created = caller.upload("/bulk/v1/program/1001/members/import.json", "email\nb@example.com\n",
                            format="csv", programMemberStatus="Invited").json()  # fmt: skip
    assert set(created["result"][0]) == SWAGGER["ImportProgramMemberResponse"]


@pytest.mark.skipif(not REFERENCE.exists(), reason="Marketo's OpenAPI file is not present")
def test_hardcoded_names_match_the_openapi_file() -> None:
    definitions = json.loads(REFERENCE.read_text())["definitions"]
    for name, expected in SWAGGER.items():
        properties = set(definitions[name]["properties"]) - {"success", "warnings"}
        assert expected == properties, name
    for name, expected in REQUIRED.items():
        assert set(definitions[name]["required"]) == expected, name
    assert set(definitions["ObjectMetaData"]["properties"]["state"]["enum"]) == APPROVAL_STATES
