"""Sandbox Data Ingestion API: where the token goes, the trace headers, and the guardrails.

data-ingestion.md: the token only in ``X-Mkto-User-Token``, no query parameters,
``X-Correlation-Id`` up to 255 and ``X-Request-Source`` up to 50 characters; at
most 1 MB and 1,000 objects a request (program members: across all programs),
5,000 requests a second per client id and 10,000,000 objects a day, all
settings under ``ingestion`` in ``GET /_sandbox/config``; not entitled: 4030801.

Long on purpose: one test per documented limit, read as the list of them.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import requests

from tests.sandbox_helpers import (
    Ingester,
    admin,
    configure,
    drain,
    ingestion_request,
    refusal,
    start_process,
)
from tests.services import Service

PERSONS = {"persons": [{"email": "a@example.com"}]}
TOKEN_MISSING = (403, {"error_code": "403010", "message": "Oauth token is missing"})
TOKEN_INVALID = (401, {"error_code": "401013", "message": "Oauth token is invalid"})
NOT_FOUND = (404, {"error_code": "404040", "message": "Resource not found"})


def test_the_token_travels_only_in_x_mkto_user_token(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    token = ingester.caller.token()
    assert refusal(ingester.post("persons", PERSONS, token=False)) == TOKEN_MISSING
    in_query = ingester.post("persons", PERSONS, token=False, params={"access_token": token})
    assert refusal(in_query) == TOKEN_MISSING
    bearer = {"Authorization": f"Bearer {token}"}
    assert refusal(ingester.post("persons", PERSONS, token=False, headers=bearer)) == TOKEN_INVALID
    assert refusal(ingester.post("persons", PERSONS, headers=bearer)) == TOKEN_INVALID
    with_query = ingester.post("persons", PERSONS, params={"access_token": token})
    assert refusal(with_query) == (
        400,
        {"error_code": "4000801", "message": "Bad request: query parameters are not supported"},
    )
    unknown = {"X-Mkto-User-Token": "11606815-aa7a-405a-80a1-f9683efa528b:ab"}
    assert refusal(ingester.post("persons", PERSONS, headers=unknown)) == TOKEN_INVALID
    ingester.send("persons", PERSONS)
    admin(sandbox, "POST", "/_sandbox/tokens/expire", {})
    assert refusal(ingester.post("persons", PERSONS)) == TOKEN_INVALID
    listing = admin(sandbox, "GET", "/_sandbox/ingestion/requests")["requests"]
    assert [r["http_status"] for r in listing] == [403, 403, 401, 401, 400, 401, 202, 401]
    assert token not in json.dumps(listing)  # the admin view never holds a token


def test_every_answer_has_its_own_request_id(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    answers = [
        ingester.post("persons", PERSONS),
        ingester.post("persons", {}),
        ingester.post("persons", PERSONS, token=False),
        ingester.post("nowhere", {}),
    ]
    ids = [a.headers["X-Request-Id"] for a in answers]
    assert [a.status_code for a in answers] == [202, 400, 403, 404]
    assert len(set(ids)) == 4 and all(ids)
    assert [ingestion_request(sandbox, i)["request_id"] for i in ids] == ids


def test_correlation_id_and_request_source_lengths(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    longest = {"X-Correlation-Id": "c" * 255, "X-Request-Source": "s" * 50}
    request_id = ingester.send("persons", PERSONS, headers=longest)
    entry = ingestion_request(sandbox, request_id)
    assert (entry["correlation_id"], entry["request_source"]) == ("c" * 255, "s" * 50)
    too_long = ingester.post("persons", PERSONS, headers={"X-Correlation-Id": "c" * 256})
    assert refusal(too_long) == (
        400,
        {
            "error_code": "4000801",
            "message": "Bad request: X-Correlation-Id is longer than 255 characters",
        },
    )
    too_long = ingester.post("persons", PERSONS, headers={"X-Request-Source": "s" * 51})
    assert refusal(too_long) == (
        400,
        {
            "error_code": "4000801",
            "message": "Bad request: X-Request-Source is longer than 50 characters",
        },
    )


def test_unknown_paths_munchkin_ids_objects_and_methods_are_404(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    token = {"X-Mkto-User-Token": ingester.caller.token()}
    assert refusal(ingester.post("leads", PERSONS)) == NOT_FOUND
    assert refusal(ingester.post("customobjects/boat_c", {"customObjects": [{}]})) == NOT_FOUND
    assert refusal(ingester.post("lists/delete", {"listId": 1})) == NOT_FOUND
    other = requests.post(
        f"{sandbox.url}/subscriptions/999-XYZ-000/persons", json=PERSONS, headers=token, timeout=10
    )
    assert refusal(other) == NOT_FOUND
    get = requests.get(f"{ingester.base}/persons", headers=token, timeout=10)
    assert refusal(get) == NOT_FOUND
    assert admin(sandbox, "GET", "/_sandbox/ingestion/stats")["requests"]["rejected"] == 5


def _padded_persons(size: int) -> bytes:
    """A persons body of exactly ``size`` bytes (the padding is in a text field)."""
    body = {"persons": [{"email": "big@example.com", "notes": ""}]}
    base = len(json.dumps(body).encode())
    body["persons"][0]["notes"] = "n" * (size - base)
    data = json.dumps(body).encode()
    assert len(data) == size
    return data


def test_request_body_limit_is_one_megabyte(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    assert ingester.post("persons", data=_padded_persons(1_000_000)).status_code == 202
    over = ingester.post("persons", data=_padded_persons(1_000_001))
    assert refusal(over) == (
        400,
        {
            "error_code": "4000801",
            "message": "Bad request: request body is larger than 1000000 bytes",
        },
    )
    configure(sandbox, ingestion={"max_body_bytes": 2000})
    assert ingester.post("persons", data=_padded_persons(2000)).status_code == 202
    assert refusal(ingester.post("persons", data=_padded_persons(2001)))[0] == 400
    assert drain(sandbox) == 2


def test_at_most_1000_objects_per_request(sandbox: Service) -> None:
    ingester = Ingester(sandbox)
    people = [{"email": f"p{n}@example.com"} for n in range(1001)]
    ingester.send("persons", {"persons": people[:1000]})
    assert refusal(ingester.post("persons", {"persons": people})) == (
        400,
        {
            "error_code": "4000802",
            "message": "Invalid data: 1001 objects in one request, at most 1000",
        },
    )
    leads = [{"leadId": n} for n in range(1, 1002)]
    ingester.send("lists", {"listId": 501, "leads": leads[:1000]})
    assert (
        refusal(ingester.post("lists/remove", {"listId": 501, "leads": leads}))[1]["message"]
        == "Invalid data: 1001 leads in one request, at most 1000"
    )
    configure(sandbox, ingestion={"max_objects_per_request": 2})
    assert (
        ingester.post(
            "companies", {"input": [{"externalCompanyId": f"e{n}"} for n in range(3)]}
        ).status_code
        == 400
    )
    drain(sandbox)
    assert admin(sandbox, "GET", "/_sandbox/records/leads") == {"count": 1000}


def test_program_members_count_across_all_programs(sandbox: Service) -> None:
    ingester = Ingester(sandbox)

    def programs(first: int, second: int) -> dict[str, Any]:
        return {
            "programs": [
                {
                    "programId": 1001,
                    "status": "Invited",
                    "members": [{"leadId": n + 1} for n in range(first)],
                },
                {
                    "programId": 1002,
                    "status": "On List",
                    "input": [{"leadId": n + 1} for n in range(second)],
                },
            ]
        }

    ingester.send("programmembers", programs(600, 400))
    refused = ingester.post(
        "programmembers/delete",
        {
            "programs": [
                {"programId": p["programId"], "members": p.get("members") or p["input"]}
                for p in programs(600, 401)["programs"]
            ]
        },
    )
    assert refusal(refused) == (
        400,
        {
            "error_code": "4000802",
            "message": "Invalid data: 1001 members across all programs in one request, "
            "at most 1000",
        },
    )
    exactly = ingester.send("programmembers", programs(999, 1))
    assert ingestion_request(sandbox, exactly)["objects"] == 1000


def test_requests_per_second_per_client_id(sandbox: Service) -> None:
    configure(sandbox, ingestion={"requests_per_second": 3})
    ingester = Ingester(sandbox)
    ingester.caller.token()
    barrier = threading.Barrier(6)
    answers: list[requests.Response] = []

    def call() -> None:
        barrier.wait()
        answers.append(Ingester(sandbox, ingester.caller).post("persons", PERSONS))

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    limited = [a for a in answers if a.status_code != 202]
    assert len(limited) == 3
    assert {json.dumps(refusal(a)) for a in limited} == {
        json.dumps((429, {"error_code": "429001", "message": "Service usage limit reached"}))
    }
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 1.01})
    assert [ingester.post("persons", PERSONS).status_code for _ in range(3)] == [202] * 3


def test_objects_per_day_reset_at_the_quota_day(sandbox: Service) -> None:
    configure(sandbox, ingestion={"daily_objects": 5})
    admin(sandbox, "POST", "/_sandbox/clock", {"set": "2026-06-01T23:59:00-05:00"})  # CDT
    ingester = Ingester(sandbox)
    three = {"persons": [{"email": f"d{n}@example.com"} for n in range(3)]}
    ingester.send("persons", three)
    assert refusal(ingester.post("persons", three)) == (
        429,
        {"error_code": "4290801", "message": "Daily quota reached"},
    )
    ingester.send("lists", {"listId": 501, "leads": [{"leadId": 1}, {"leadId": 2}]})
    assert refusal(ingester.post("persons", PERSONS))[1]["error_code"] == "4290801"
    assert admin(sandbox, "GET", "/_sandbox/ingestion/stats")["objects_today"] == 5
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 61})  # midnight in Chicago
    ingester.send("persons", three)
    assert admin(sandbox, "GET", "/_sandbox/ingestion/stats")["objects_today"] == 3


def test_not_entitled_every_call_is_403_unauthorized(sandbox: Service) -> None:
    configure(sandbox, ingestion={"entitled": False})
    ingester = Ingester(sandbox)
    unauthorized = (403, {"error_code": "4030801", "message": "Unauthorized"})
    for resource in (
        "persons",
        "customobjects/car_c",
        "companies",
        "programmembers",
        "programmembers/delete",
        "lists",
        "lists/remove",
    ):
        assert refusal(ingester.post(resource, {"no": "matter"})) == unauthorized, resource
    assert refusal(ingester.post("persons", PERSONS, token=False)) == TOKEN_MISSING
    configure(sandbox, ingestion={"entitled": True})
    ingester.send("persons", PERSONS)


def test_guardrail_settings_are_validated(sandbox: Service) -> None:
    config = admin(sandbox, "GET", "/_sandbox/config")["ingestion"]
    assert config == {
        "munchkin_id": "123-ABC-456",
        "entitled": True,
        "apply_delay_s": 1.0,
        "max_body_bytes": 1_000_000,
        "max_objects_per_request": 1000,
        "requests_per_second": 5000,
        "daily_objects": 10_000_000,
    }
    for bad in (
        {"munchkin_id": "sandbox"},
        {"entitled": "no"},
        {"apply_delay_s": -1},
        {"max_objects_per_request": 0},
        {"requests_per_second": 1.5},
        {"bogus": 1},
    ):
        response = requests.patch(
            sandbox.url + "/_sandbox/config", json={"ingestion": bad}, timeout=10
        )
        assert response.status_code == 400, bad
        assert "ingestion." in response.json()["error"]
    assert (
        configure(sandbox, ingestion={"munchkin_id": "999-XYZ-000"})["ingestion"]["munchkin_id"]
        == "999-XYZ-000"
    )
    assert Ingester(sandbox).post("persons", PERSONS).status_code == 202


def test_command_line_flags_set_the_ingestion_settings(tmp_path: Path) -> None:
    flags = ["--munchkin-id", "555-QQQ-555", "--ingestion-apply-delay", "0", "--no-ingestion"]
    process, line, _ = start_process(tmp_path, flags)
    try:
        url = line.split("listening on ", 1)[1].strip()
        settings = requests.get(url + "/_sandbox/config", timeout=10).json()["ingestion"]
        assert (settings["munchkin_id"], settings["apply_delay_s"], settings["entitled"]) == (
            "555-QQQ-555",
            0.0,
            False,
        )
    finally:
        process.terminate()
        process.wait(10)
