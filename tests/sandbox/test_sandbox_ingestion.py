"""Sandbox Data Ingestion API: each endpoint's documented request lands in the record store.

Accepted requests are applied asynchronously (``ingestion.apply_delay_s`` of sandbox
time); these tests apply them with ``POST /_sandbox/ingestion/drain`` and read the
outcome Marketo reports only through its Observability Data Stream from the admin API.

Long on purpose: one round trip per endpoint, read as the tour of the API.
"""

from __future__ import annotations

from typing import Any

from tests.sandbox_helpers import (
    Caller,
    Ingester,
    admin,
    configure,
    drain,
    ingestion_request,
    records,
)
from tests.services import Service

BROOKLYN = {
    "email": "brooklyn.parker@karnv.com",
    "firstName": "Brooklyn",
    "lastName": "Parker",
    "company": "Karnv",
}
JOHNNY = {
    "email": "johnny.neal@yvu30.com",
    "firstName": "Johnny",
    "lastName": "Neal",
    "company": "Acme Inc",
}


def lead_ids(sandbox: Service, ingester: Ingester, count: int) -> list[int]:
    """Create ``count`` leads through the persons endpoint; their Marketo ids."""
    people = [{"email": f"p{n}@example.com"} for n in range(count)]
    ingester.send("persons", {"persons": people})
    drain(sandbox)
    return [records(sandbox, "leads", email=p["email"])[0]["id"] for p in people]


def test_persons_example_is_accepted_then_applied_after_the_delay(sandbox: Service) -> None:
    configure(sandbox, ingestion={"apply_delay_s": 60})
    ingester = Ingester(sandbox)
    body = {
        "priority": "high",
        "partitionName": "EMEA",
        "dedupeFields": {"field1": "email", "field2": "firstName"},
        "persons": [BROOKLYN, JOHNNY],
    }
    request_id = ingester.send("persons", body)
    pending = ingestion_request(sandbox, request_id)
    assert (pending["status"], pending["objects"], pending["applied"]) == ("pending", 2, 0)
    assert admin(sandbox, "GET", "/_sandbox/records/leads") == {"count": 0}
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 60})
    done = ingestion_request(sandbox, request_id)
    assert (done["status"], done["applied"], done["failed"]) == ("applied", 2, 0)
    assert done["failures"] == [] and done["warnings"] == []
    assert done["applied_at"] == done["apply_at"] == done["received_at"] + 60
    [lead] = records(sandbox, "leads", email="brooklyn.parker@karnv.com")
    assert (lead["firstName"], lead["company"], lead["partitionName"]) == (
        "Brooklyn",
        "Karnv",
        "EMEA",
    )


def test_a_delay_of_zero_applies_before_the_next_admin_read(sandbox: Service) -> None:
    configure(sandbox, ingestion={"apply_delay_s": 0})
    ingester = Ingester(sandbox)
    request_id = ingester.send("persons", {"persons": [BROOKLYN]})
    assert records(sandbox, "leads", firstName="Brooklyn")[0]["email"] == BROOKLYN["email"]
    assert ingestion_request(sandbox, request_id)["status"] == "applied"
    assert drain(sandbox) == 0


def test_persons_upsert_by_email_and_by_two_dedupe_fields(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    ingester.send("persons", {"persons": [BROOKLYN]})
    ingester.send("persons", {"persons": [{"email": "BROOKLYN.parker@karnv.com", "title": "CTO"}]})
    drain(sandbox)
    [lead] = records(sandbox, "leads", email=BROOKLYN["email"])
    assert (lead["title"], lead["firstName"]) == ("CTO", "Brooklyn")  # updated, not duplicated
    same_name = {"field1": "email", "field2": "firstName"}
    ingester.send(
        "persons", {"dedupeFields": same_name, "persons": [{**BROOKLYN, "firstName": "Bea"}]}
    )
    drain(sandbox)
    assert len(records(sandbox, "leads", email=BROOKLYN["email"])) == 2  # AND: no match, created
    request_id = ingester.send(
        "persons",
        {"dedupeFields": {"field1": "company"}, "persons": [{"company": "Karnv", "city": "Oslo"}]},
    )
    drain(sandbox)
    outcome = ingestion_request(sandbox, request_id)
    assert outcome["failures"] == [
        {"index": 0, "where": "persons[0]", "reason": "Multiple leads match the lookup criteria"}
    ]


def test_persons_row_rules_are_the_bulk_imports(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    people: list[dict[str, Any]] = [
        {"email": "ok@example.com", "LEADSCORE": 7, "unsubscribed": True, "notes": None},
        {"email": "bad@example.com", "leadScore": "seven"},
        {"firstName": "No email"},
        {"email": "not-an-address", "loyaltyTier": "x" * 25, "shoeSize": 44},
        {"email": "nested@example.com", "city": {"name": "Oslo"}},
    ]
    request_id = ingester.send("persons", {"persons": people})
    drain(sandbox)
    outcome = ingestion_request(sandbox, request_id)
    assert (outcome["objects"], outcome["applied"], outcome["failed"]) == (5, 2, 3)
    assert outcome["failures"] == [
        {"index": 1, "where": "persons[1]", "reason": "Invalid data type in field Lead Score"},
        {"index": 2, "where": "persons[2]", "reason": "Missing value for lookup field 'email'"},
        {"index": 4, "where": "persons[4]", "reason": "Invalid data type in field City"},
    ]
    assert outcome["warnings"] == [
        {
            "index": 3,
            "where": "persons[3]",
            "warnings": [
                "Unknown field 'shoeSize' ignored",
                "Invalid email address",
                "Value for field Loyalty Tier truncated to 20",
            ],
        }
    ]
    [ok] = records(sandbox, "leads", email="ok@example.com")
    assert (ok["leadScore"], ok["unsubscribed"]) == (7, True)
    assert "notes" not in ok  # null is not written, like an empty cell
    assert records(sandbox, "leads", email="not-an-address")[0]["loyaltyTier"] == "x" * 20


def test_persons_by_id_update_only(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    [lead_id] = lead_ids(sandbox, ingester, 1)
    request_id = ingester.send(
        "persons",
        {
            "dedupeFields": {"field1": "id"},
            "persons": [{"id": lead_id, "city": "Lima"}, {"id": 999, "city": "Quito"}],
        },
    )
    drain(sandbox)
    assert records(sandbox, "leads", id=lead_id)[0]["city"] == "Lima"
    assert ingestion_request(sandbox, request_id)["failures"] == [
        {"index": 1, "where": "persons[1]", "reason": "Lead not found"}
    ]


def test_custom_objects_example_upserts_by_dedupe_fields_and_by_marketo_guid(
    sandbox: Service,
) -> None:
    ingester = Ingester(sandbox)
    cars = [
        {"vin": "20UYA31581L000000", "make": "BMW", "model": "3-Series 330i", "year": 2003},
        {"vin": "19UYA31581L000000", "make": "BMW", "model": "3-Series 325i", "year": 1989},
        {"make": "Audi"},
    ]
    first = ingester.send(
        "customobjects/car_c",
        {"dedupeBy": "dedupeFields", "priority": "high", "customObjects": cars},
    )
    drain(sandbox)
    assert ingestion_request(sandbox, first)["failures"] == [
        {"index": 2, "where": "customObjects[2]", "reason": "missing.dedupe.fields"}
    ]
    [car] = records(sandbox, "car_c", vin="20UYA31581L000000")
    assert (car["model"], car["year"]) == ("3-Series 330i", 2003)
    second = ingester.send(
        "customobjects/car_c",
        {
            "dedupeBy": "marketoGUID",
            "customObjects": [
                {"marketoGUID": car["marketoGUID"], "color": "red"},
                {"marketoGUID": "no-such-guid", "color": "blue"},
                {"marketoGUID": car["marketoGUID"], "vin": "OTHER"},
            ],
        },
    )
    drain(sandbox)
    assert records(sandbox, "car_c", vin="20UYA31581L000000")[0]["color"] == "red"
    assert [f["reason"] for f in ingestion_request(sandbox, second)["failures"]] == [
        "Record not found",
        "Dedupe fields cannot be changed when deduplicating by marketoGUID",
    ]
    assert admin(sandbox, "GET", "/_sandbox/records/car_c") == {"count": 2}


def test_companies_create_update_and_update_by_id(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    acme = {
        "externalCompanyId": "ext-company-001",
        "company": "Acme Corporation",
        "industry": "Technology",
        "numberOfEmployees": 5000,
        "annualRevenue": 100000000,
    }
    globex = {
        "externalCompanyId": "ext-company-002",
        "company": "Globex Industries",
        "industry": "Manufacturing",
        "numberOfEmployees": 1200,
    }
    ingester.send(
        "companies",
        {"action": "createOrUpdate", "dedupeBy": "dedupeFields", "input": [acme, globex]},
    )
    drain(sandbox)
    [company] = records(sandbox, "companies", externalCompanyId="ext-company-001")
    assert (company["company"], company["annualRevenue"]) == ("Acme Corporation", 100000000.0)
    ingester.send(
        "companies",
        {
            "action": "updateOnly",
            "dedupeBy": "IDFIELD",
            "companies": [
                {
                    "id": company["id"],
                    "company": "Acme Corporation (Renamed)",
                    "numberOfEmployees": 5500,
                }
            ],
        },
    )
    drain(sandbox)
    renamed = records(sandbox, "companies", id=company["id"])[0]
    assert (renamed["company"], renamed["numberOfEmployees"]) == (
        "Acme Corporation (Renamed)",
        5500,
    )
    create_only = ingester.send(
        "companies",
        {
            "action": "createOnly",
            "input": [
                {"externalCompanyId": "ext-company-002"},
                {"externalCompanyId": "ext-company-003"},
            ],
        },
    )
    update_only = ingester.send(
        "companies",
        {
            "action": "updateOnly",
            "input": [
                {"externalCompanyId": "ext-company-009"},
                {"ExternalCompanyID": "ext-company-003", "INDUSTRY": "Retail"},
            ],
        },
    )
    drain(sandbox)
    assert ingestion_request(sandbox, create_only)["failures"] == [
        {"index": 0, "where": "input[0]", "reason": "Company already exists"}
    ]
    assert ingestion_request(sandbox, update_only)["failures"] == [
        {"index": 0, "where": "input[0]", "reason": "Company not found"}
    ]
    assert records(sandbox, "companies", externalCompanyId="ext-company-003")[0]["industry"] == (
        "Retail"
    )
    assert admin(sandbox, "GET", "/_sandbox/records/companies") == {"count": 3}


def test_program_members_sync_then_delete(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    first, second, third = lead_ids(sandbox, ingester, 3)
    sync = ingester.send(
        "programmembers",
        {
            "programs": [
                {
                    "programId": 1001,
                    "status": "Registered",
                    "members": [{"leadId": first, "registrationCode": "R-1"}, {"leadId": second}],
                },
                {"programId": 1002, "statusName": "On List", "input": [{"leadId": third}]},
                {"programId": 1003, "status": "Member", "members": [{"leadId": first}]},
                {"programId": 4242, "status": "Member", "members": [{"leadId": first}]},
                {"programId": 1001, "status": "Invited", "members": [{"leadId": 777}]},
            ]
        },
    )
    drain(sandbox)
    member = records(sandbox, "program_members", programId=1001, leadId=first)[0]
    assert (member["statusName"], member["registrationCode"]) == ("Registered", "R-1")
    assert records(sandbox, "program_members", programId=1002)[0]["leadId"] == third
    assert ingestion_request(sandbox, sync)["failures"] == [
        {
            "index": 3,
            "where": "programs[2].members[0]",
            "reason": "Program status 'Member' not found",
        },
        {"index": 4, "where": "programs[3].members[0]", "reason": "Program '4242' not found"},
        {"index": 5, "where": "programs[4].members[0]", "reason": "Lead not found"},
    ]
    delete = ingester.send(
        "programmembers/delete",
        {"programs": [{"programId": 1001, "members": [{"leadId": first}, {"leadId": third}]}]},
    )
    drain(sandbox)
    assert [m["leadId"] for m in records(sandbox, "program_members", programId=1001)] == [second]
    outcome = ingestion_request(sandbox, delete)
    assert (outcome["applied"], outcome["failed"]) == (2, 0)
    assert outcome["warnings"] == [
        {
            "index": 1,
            "where": "programs[0].members[1]",
            "warnings": ["Lead was not a member of the program"],
        }
    ]


def test_lists_add_and_remove(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    first, second, third = lead_ids(sandbox, ingester, 3)
    ingester.send(
        "lists", {"listId": 501, "leads": [{"leadId": first}, {"id": second}, {"leadId": third}]}
    )
    unknown = ingester.send("lists", {"listId": 9999, "input": [{"leadId": first}]})
    drain(sandbox)
    on_list = records(sandbox, "list_members", listId=501)
    assert on_list == [{"listId": 501, "leadId": n} for n in (first, second, third)]
    assert ingestion_request(sandbox, unknown)["failures"][0]["reason"] == (
        "Static list '9999' not found"
    )
    removed = ingester.send(
        "lists/remove", {"listId": 501, "leads": [{"leadId": first}, {"leadId": 4040}]}
    )
    drain(sandbox)
    assert [m["leadId"] for m in records(sandbox, "list_members", listId=501)] == [second, third]
    assert ingestion_request(sandbox, removed)["failures"] == [
        {"index": 1, "where": "leads[1]", "reason": "Lead not found"}
    ]


def test_requests_are_applied_in_order_with_bulk_jobs(sandbox: Service) -> None:
    caller = Caller(sandbox)
    ingester = Ingester(sandbox, caller)
    configure(sandbox, import_overhead_s=30, ingestion={"apply_delay_s": 10})
    batch = caller.submit("/bulk/v1/leads.json", "email,title\nbrooklyn.parker@karnv.com,Bulk\n")
    ingester.send("persons", {"persons": [{**BROOKLYN, "title": "Ingested"}]})
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 31})
    assert caller.wait_done(f"/bulk/v1/leads/batch/{batch}.json")["status"] == "Complete"
    # Ingested at +10 s, then the bulk job finished at +30 s and overwrote the title.
    assert records(sandbox, "leads", email=BROOKLYN["email"])[0]["title"] == "Bulk"


def test_admin_lists_requests_with_filters_and_counters(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    ingester.send(
        "persons",
        {"persons": [BROOKLYN]},
        headers={"X-Correlation-Id": "nightly-7", "X-Request-Source": "etl"},
    )
    ingester.post("persons", {"persons": []})
    drain(sandbox)
    listing = admin(sandbox, "GET", "/_sandbox/ingestion/requests?correlation_id=nightly-7")
    assert listing["count"] == 1
    [entry] = listing["requests"]
    assert (entry["status"], entry["request_source"], entry["client_id"]) == (
        "applied",
        "etl",
        sandbox.extra["client_id"],
    )
    rejected = admin(sandbox, "GET", "/_sandbox/ingestion/requests?status=rejected")["requests"]
    assert [r["error_code"] for r in rejected] == ["4000802"]
    counters = admin(sandbox, "GET", "/_sandbox/ingestion/stats")
    assert counters["base_path"] == f"/subscriptions/{ingester.munchkin_id}"
    assert counters["requests"] == {"pending": 0, "applied": 1, "rejected": 1, "dropped": 0}
    assert (counters["objects_accepted"], counters["objects_applied"]) == (1, 1)
    assert counters["objects_today"] == 1
    calls = admin(sandbox, "GET", "/_sandbox/stats")
    assert calls["calls_by_endpoint"]["POST /subscriptions/{munchkinId}/persons"] == 2
    assert calls["calls_by_code"]["202"] == 1 and calls["calls_by_code"]["4000802"] == 1
    assert calls["daily_calls"] == 0  # the REST quota is not this API's
    admin(sandbox, "POST", "/_sandbox/reset", {})
    assert admin(sandbox, "GET", "/_sandbox/ingestion/requests")["count"] == 0
