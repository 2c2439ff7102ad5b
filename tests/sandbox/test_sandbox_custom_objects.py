"""Sandbox bulk custom object import (the docs' Car example) and program member import."""

from __future__ import annotations

from tests.sandbox_helpers import Caller, admin, csv_rows, error_code, stats
from tests.services import Service

CARS = (
    "color,make,model,vin\n"
    "red,bmw,2002,WBA4R7C55HK895912\n"
    "yellow,bmw,320i,WBA4R7C30HK896061\n"
    "blue,bmw,325i,WBS3U9C52HP970604\n"
)
CAR_IMPORT = "/bulk/v1/customobjects/car_c/import.json"


def car_status(batch: int) -> str:
    return f"/bulk/v1/customobjects/car_c/import/{batch}/status.json"


def test_car_example_end_to_end(sandbox: Service) -> None:
    caller = Caller(sandbox)
    created = caller.upload(CAR_IMPORT, CARS, format="csv").json()
    [job] = created["result"]
    assert job == {
        "batchId": job["batchId"],
        "operation": "import",
        "status": "Queued",
        "objectApiName": "car_c",
    }
    result = caller.wait_done(car_status(job["batchId"]))
    assert result == {
        "batchId": job["batchId"],
        "operation": "import",
        "status": "Complete",
        "objectApiName": "car_c",
        "numOfObjectsProcessed": 3,
        "numOfRowsFailed": 0,
        "numOfRowsWithWarning": 0,
        "importTime": "1 second(s)",
        "message": "Import succeeded, 3 records imported (3 members)",
    }
    again = caller.submit(CAR_IMPORT, CARS.replace("red", "green"), format="csv")
    caller.wait_done(car_status(again))
    assert stats(sandbox)["records"]["car_c"] == 3
    car = admin(sandbox, "GET", "/_sandbox/records/car_c?vin=WBA4R7C55HK895912")["records"][0]
    assert car["color"] == "green"
    assert len(car["marketoGUID"]) == 36


def test_misspelled_dedupe_header_fails_every_row(sandbox: Service) -> None:
    caller = Caller(sandbox)
    bad = CARS.replace(",vin\n", ", vin\n", 1)
    batch = caller.submit(CAR_IMPORT, bad, format="csv")
    result = caller.wait_done(car_status(batch))
    assert result["numOfObjectsProcessed"] == 0
    assert result["numOfRowsFailed"] == 3
    assert result["message"] == (
        "Import completed with errors, 0 records imported (0 members), 3 failed"
    )
    failures = caller.get(f"/bulk/v1/customobjects/car_c/import/{batch}/failures.json").text
    assert failures == (
        "color,make,model, vin,Import Failure Reason\n"
        "red,bmw,2002,WBA4R7C55HK895912,missing.dedupe.fields\n"
        "yellow,bmw,320i,WBA4R7C30HK896061,missing.dedupe.fields\n"
        "blue,bmw,325i,WBS3U9C52HP970604,missing.dedupe.fields\n"
    )
    warnings = caller.get(f"/bulk/v1/customobjects/car_c/import/{batch}/warnings.json")
    assert warnings.status_code == 404


def test_compound_dedupe_and_types(sandbox: Service) -> None:
    caller = Caller(sandbox)
    data = (
        "orderId\tlineNumber\tsku\tquantity\tprice\tpurchasedAt\tgift\n"
        "O-1\t1\tSKU-1\t2\t9.99\t2026-01-02T03:04:05Z\ttrue\n"
        "O-1\t2\tSKU-2\t1\t5\t2026-01-02T03:04:05+01:00\tfalse\n"
        "O-1\t1\tSKU-1\t3\t9.99\t2026-01-02T03:04:05Z\ttrue\n"  # same key: update
        "O-2\t\tSKU-3\t1\t1.0\t2026-01-02\tfalse\n"  # missing part of the key
        "O-3\t1\tSKU-4\t1\tcheap\t2026-01-02\tfalse\n"  # float
        "O-4\t1\tSKU-5\t1\t1.5\tyesterday\tfalse\n"  # datetime
    )
    path = "/bulk/v1/customobjects/order_line_c/import.json"
    batch = caller.submit(path, data, format="tsv")
    result = caller.wait_done(f"/bulk/v1/customobjects/order_line_c/import/{batch}/status.json")
    assert (result["numOfObjectsProcessed"], result["numOfRowsFailed"]) == (3, 3)
    text = caller.get(f"/bulk/v1/customobjects/order_line_c/import/{batch}/failures.json").text
    reasons = [row[-1] for row in csv_rows(text.replace("\t", ","))[1:]]
    assert reasons == [
        "missing.dedupe.fields",
        "Invalid data type in field Price",
        "Invalid data type in field Purchased At",
    ]
    assert stats(sandbox)["records"]["order_line_c"] == 2
    line = admin(sandbox, "GET", "/_sandbox/records/order_line_c?orderId=O-1&lineNumber=1")
    assert line["records"][0]["quantity"] == 3


def test_custom_object_errors(sandbox: Service) -> None:
    caller = Caller(sandbox)
    missing = caller.upload("/bulk/v1/customobjects/boat_c/import.json", CARS, format="csv")
    assert error_code(missing) == "1013"
    batch = caller.submit(CAR_IMPORT, CARS, format="csv")
    caller.wait_done(car_status(batch))
    wrong_object = f"/bulk/v1/customobjects/order_line_c/import/{batch}/status.json"
    assert error_code(caller.get(wrong_object)) == "1003"
    assert error_code(caller.get(f"/bulk/v1/leads/batch/{batch}.json")) == "1003"
    assert error_code(caller.get("/rest/v1/customobjects/boat_c/describe.json")) == "1013"


LANNISTERS = (
    "firstName,lastName,email,title,company,leadScore\n"
    "Joanna,Lannister,Joanna@Lannister.com,Lannister,House Lannister,0\n"
    "Tywin,Lannister,Tywin@Lannister.com,Lannister,House Lannister,0\n"
    "Cersei,Lannister,Cersei@Lannister.com,Lannister,House Lannister,0\n"
    "Aerys,Targaryen,Aerys@Targaryen.com,Targaryen,House Targaryen,TEXT_VALUE_IN_INTEGER_FIELD\n"
    "Aerys,Targaryen,INVALID_EMAIL,Targaryen,House Targaryen,0\n"
)
PM_IMPORT = "/bulk/v1/program/1002/members/import.json"


def pm_path(batch: int, what: str = "status") -> str:
    return f"/bulk/v1/program/members/import/{batch}/{what}.json"


def test_program_members_end_to_end(sandbox: Service) -> None:
    caller = Caller(sandbox)
    created = caller.upload(PM_IMPORT, LANNISTERS, format="csv", programMemberStatus="On List")
    [job] = created.json()["result"]
    assert job == {"batchId": job["batchId"], "importId": str(job["batchId"]), "status": "Queued"}
    result = caller.wait_done(pm_path(job["batchId"]))
    assert result == {
        "batchId": job["batchId"],
        "importId": str(job["batchId"]),
        "status": "Complete",
        "numOfLeadsProcessed": 4,
        "numOfRowsFailed": 1,
        "numOfRowsWithWarning": 1,
        "message": "Import completed with errors, 4 records imported (4 members), 1 failed, "
        "1 warning.",
    }
    failures = caller.get(pm_path(job["batchId"], "failures")).text.splitlines()
    assert failures[0] == "firstName,lastName,email,title,company,leadScore,Import Failure Reason"
    assert failures[1] == (
        "Aerys,Targaryen,Aerys@Targaryen.com,Targaryen,House Targaryen,"
        "TEXT_VALUE_IN_INTEGER_FIELD,Invalid data type in field Lead Score"
    )
    warnings = caller.get(pm_path(job["batchId"], "warnings")).text.splitlines()
    assert warnings[1] == (
        "Aerys,Targaryen,INVALID_EMAIL,Targaryen,House Targaryen,0,Invalid email address"
    )
    counts = stats(sandbox)["records"]
    assert counts["program_members"] == 4
    assert counts["leads"] == 4  # leads created for members that did not exist
    member = admin(sandbox, "GET", "/_sandbox/records/program_members?email=tywin@lannister.com")
    assert member["records"][0]["statusName"] == "On List"
    assert member["records"][0]["programId"] == 1002


def test_program_member_status_update_and_custom_fields(sandbox: Service) -> None:
    caller = Caller(sandbox)
    path = "/bulk/v1/program/1001/members/import.json"
    first = caller.submit(path, "email,registrationCode\nx@example.com,R-1\n", format="csv",
                          programMemberStatus="Registered")  # fmt: skip
    caller.wait_done(pm_path(first))
    second = caller.submit(path, "email,attendanceMinutes\nx@example.com,45\n", format="csv",
                           programMemberStatus="Attended")  # fmt: skip
    caller.wait_done(pm_path(second))
    [member] = admin(sandbox, "GET", "/_sandbox/records/program_members?programId=1001")["records"]
    assert (member["statusName"], member["registrationCode"], member["attendanceMinutes"]) == (
        "Attended", "R-1", 45,
    )  # fmt: skip
    assert stats(sandbox)["records"]["program_members"] == 1


def test_program_member_errors(sandbox: Service) -> None:
    caller = Caller(sandbox)
    data = "email\na@example.com\n"
    unknown = caller.upload("/bulk/v1/program/9/members/import.json", data, format="csv",
                            programMemberStatus="On List")  # fmt: skip
    assert error_code(unknown) == "1013"
    assert error_code(caller.upload(PM_IMPORT, data, format="csv")) == "701"
    assert error_code(caller.upload(PM_IMPORT, data, format="csv", programMemberStatus="Won")) == (
        "1025"
    )
    assert error_code(caller.get(pm_path(987654))) == "1003"
