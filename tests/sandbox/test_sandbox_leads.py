"""Sandbox bulk lead import: create, status, failures/warnings files, row rules, errors."""

from __future__ import annotations

import requests

from tests.sandbox_helpers import Caller, admin, csv_rows, error_code, errors, stats
from tests.services import Service

IMPORT = "/bulk/v1/leads.json"


def status_path(batch_id: int) -> str:
    return f"/bulk/v1/leads/batch/{batch_id}.json"


def test_docs_example_with_plain_requests(sandbox: Service) -> None:
    """An unmodified client: the docs' curl example done with requests, Authorization header."""
    token = requests.get(
        sandbox.url + "/identity/oauth/token",
        params={
            "grant_type": "client_credentials",
            "client_id": sandbox.extra["client_id"],
            "client_secret": sandbox.extra["client_secret"],
        },
        timeout=10,
    ).json()["access_token"]
    data = (
        "firstName,lastName,email,company\n"
        "Able,Baker,ablebaker@marketo.com,Marketo\n"
        "Charlie,Dog,charliedog@marketo.com,Marketo\n"
        "Easy,Fox,easyfox@marketo.com,Marketo\n"
    )
    created = requests.post(
        sandbox.url + IMPORT,
        data={"format": "csv"},
        files={"file": ("lead_data.csv", data)},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    assert created["success"] is True
    assert "#" in created["requestId"]
    [job] = created["result"]
    assert job == {"batchId": job["batchId"], "importId": str(job["batchId"]), "status": "Queued"}
    result = Caller(sandbox).wait_done(status_path(job["batchId"]))
    assert result == {
        "batchId": job["batchId"],
        "importId": str(job["batchId"]),
        "status": "Complete",
        "numOfLeadsProcessed": 3,
        "numOfRowsFailed": 0,
        "numOfRowsWithWarning": 0,
        "message": "Import succeeded, 3 records imported (3 members)",
    }
    found = admin(sandbox, "GET", "/_sandbox/records/leads?email=easyfox@marketo.com")
    assert found["count"] == 1
    assert found["records"][0]["firstName"] == "Easy"
    assert admin(sandbox, "GET", "/_sandbox/records/leads") == {"count": 3}


def test_counts_match_failure_and_warning_files(sandbox: Service) -> None:
    caller = Caller(sandbox)
    data = (
        "email,firstName,leadScore,unsubscribed,dateOfBirth,loyaltyTier,unknownColumn\n"
        "a@example.com,Ann,10,true,1990-01-31,gold,x\n"
        "b@example.com,Bob,ten,false,1990-01-31,gold,x\n"  # integer: fails
        ",NoEmail,1,true,1990-01-31,gold,x\n"  # missing lookup value: fails
        "c@example.com,Cy,3,maybe,1990-01-31,gold,x\n"  # boolean: fails
        "d@example.com,Di,4,1,31/01/1990,gold,x\n"  # date: fails
        "not-an-email,Ed,5,0,,silver,x\n"  # invalid email: warning
        "f@example.com,Fay,6,no,,platinum-plus-diamond-tier,x\n"  # too long: warning
        "g@example.com,Gus,7\n"  # wrong number of fields: fails
    )
    batch = caller.submit(IMPORT, data, format="csv")
    result = caller.wait_done(status_path(batch))
    assert result["numOfLeadsProcessed"] == 3
    assert result["numOfRowsFailed"] == 5
    assert result["numOfRowsWithWarning"] == 2
    assert result["message"] == (
        "Import completed with errors, 3 records imported (3 members), 5 failed, 2 warnings."
    )
    failures = caller.get(f"/bulk/v1/leads/batch/{batch}/failures.json")
    assert failures.status_code == 200
    assert failures.headers["Content-Type"] == "text/csv;charset=UTF-8"
    rows = csv_rows(failures.text)
    assert rows[0][-1] == "Import Failure Reason"
    assert rows[0][:-1] == data.splitlines()[0].split(",")
    assert [r[-1] for r in rows[1:]] == [
        "Invalid data type in field Lead Score",
        "Missing value for lookup field 'email'",
        "Invalid data type in field Unsubscribed",
        "Invalid data type in field Date of Birth",
        "Wrong number of fields: expected 7, found 3",
    ]
    assert rows[5][:3] == ["g@example.com", "Gus", "7"]
    assert len(rows) - 1 == result["numOfRowsFailed"]
    warnings = csv_rows(caller.get(f"/bulk/v1/leads/batch/{batch}/warnings.json").text)
    assert warnings[0][-1] == "Import Warning Reason"
    assert [r[-1] for r in warnings[1:]] == [
        "Invalid email address",
        "Value for field Loyalty Tier truncated to 20",
    ]
    assert len(warnings) - 1 == result["numOfRowsWithWarning"]
    tier = admin(sandbox, "GET", "/_sandbox/records/leads?email=f@example.com")["records"][0]
    assert tier["loyaltyTier"] == "platinum-plus-diamon"
    assert "unknownColumn" not in tier
    assert stats(sandbox)["records"]["leads"] == 3


def test_no_failures_gives_404_files(sandbox: Service) -> None:
    caller = Caller(sandbox)
    batch = caller.submit(IMPORT, "email\nx@example.com\n", format="csv")
    caller.wait_done(status_path(batch))
    for which in ("failures", "warnings"):
        assert caller.get(f"/bulk/v1/leads/batch/{batch}/{which}.json").status_code == 404


def test_formats_quoting_bom_and_case(sandbox: Service) -> None:
    caller = Caller(sandbox)
    tsv = 'email\tnotes\n"q@example.com"\t"line one\nline two\twith tab, and ""quotes"""\n'
    ssv = "\ufeffemail;company\nr@example.com;Acme; Inc\n"  # BOM; unquoted ';' -> wrong count
    batch_tsv = caller.submit(IMPORT, tsv, format="TSV")
    batch_ssv = caller.submit(IMPORT, ssv.encode("utf-8"), format="Ssv")
    assert caller.wait_done(status_path(batch_tsv))["numOfLeadsProcessed"] == 1
    result = caller.wait_done(status_path(batch_ssv))
    assert result["numOfRowsFailed"] == 1
    failure = caller.get(f"/bulk/v1/leads/batch/{batch_ssv}/failures.json").text
    assert failure.splitlines()[0] == "email;company;Import Failure Reason"
    lead = admin(sandbox, "GET", "/_sandbox/records/leads?email=q@example.com")["records"][0]
    assert lead["notes"] == 'line one\nline two\twith tab, and "quotes"'
    quoted = 'email,company\ns@example.com,"Acme, ""Big"" Inc"\n'
    caller.wait_done(status_path(caller.submit(IMPORT, quoted, format="csv")))
    lead = admin(sandbox, "GET", "/_sandbox/records/leads?email=s@example.com")["records"][0]
    assert lead["company"] == 'Acme, "Big" Inc'


def test_upsert_by_email_and_update_only_by_id(sandbox: Service) -> None:
    caller = Caller(sandbox)
    caller.wait_done(
        status_path(caller.submit(IMPORT, "email,firstName\nA@example.com,Ann\n", format="csv"))
    )
    caller.wait_done(
        status_path(caller.submit(IMPORT, "email,firstName\na@example.com,Anne\n", format="csv"))
    )
    assert admin(sandbox, "GET", "/_sandbox/records/leads") == {"count": 1}
    lead = admin(sandbox, "GET", "/_sandbox/records/leads?email=a@example.com")["records"][0]
    assert lead["firstName"] == "Anne"
    by_id = f"id,lastName\n{lead['id']},Smith\n999999,Nobody\nabc,Bad\n"
    batch = caller.submit(IMPORT, by_id, format="csv", lookupField="id")
    result = caller.wait_done(status_path(batch))
    assert (result["numOfLeadsProcessed"], result["numOfRowsFailed"]) == (1, 2)
    reasons = [
        r[-1] for r in csv_rows(caller.get(f"/bulk/v1/leads/batch/{batch}/failures.json").text)
    ]
    assert reasons[1:] == ["Lead not found", "Invalid data type in field Id"]
    assert admin(sandbox, "GET", "/_sandbox/records/leads") == {"count": 1}
    lead = admin(sandbox, "GET", f"/_sandbox/records/leads?id={lead['id']}")["records"][0]
    assert (lead["firstName"], lead["lastName"]) == ("Anne", "Smith")


def test_custom_lookup_field_list_and_partition(sandbox: Service) -> None:
    caller = Caller(sandbox)
    data = "crmId,email\nC-1,one@example.com\nC-2,two@example.com\nC-1,uno@example.com\n"
    batch = caller.submit(
        IMPORT, data, format="csv", lookupField="crmId", listId=501, partitionName="EMEA"
    )
    assert caller.wait_done(status_path(batch))["numOfLeadsProcessed"] == 3
    assert admin(sandbox, "GET", "/_sandbox/records/leads") == {"count": 2}
    lead = admin(sandbox, "GET", "/_sandbox/records/leads?crmId=C-1")["records"][0]
    assert lead["email"] == "uno@example.com"
    assert lead["partitionName"] == "EMEA"


def test_create_errors(sandbox: Service) -> None:
    caller = Caller(sandbox)
    good = "email\na@example.com\n"
    assert error_code(caller.upload(IMPORT, good, format="xml")) == "1003"
    assert error_code(caller.upload(IMPORT, good, format="csv", lookupField="nope")) == "1006"
    assert error_code(caller.upload(IMPORT, good, format="csv", lookupField="firstName")) == "1011"
    assert error_code(caller.upload(IMPORT, good, format="csv", listId="abc")) == "1001"
    assert error_code(caller.upload(IMPORT, good, format="csv", listId=9)) == "1013"
    assert error_code(caller.upload(IMPORT, good, format="csv", partitionName="Mars")) == "1003"
    assert error_code(caller.upload(IMPORT, b"", format="csv")) == "701"
    no_file = requests.post(
        sandbox.url + IMPORT,
        files={"other": ("x.csv", good)},
        headers=caller.headers,
        timeout=10,
    )
    assert errors(no_file) == [{"code": "701", "message": "file cannot be blank"}]
    not_multipart = requests.post(
        sandbox.url + IMPORT, data=good, headers=caller.headers, timeout=10
    )
    assert error_code(not_multipart) == "612"
    assert error_code(caller.get("/bulk/v1/leads/batch/424242.json")) == "1003"
    assert error_code(caller.get("/bulk/v1/leads/batch/424242/failures.json")) == "1003"
    assert error_code(caller.get("/bulk/v1/nothing.json")) == "610"
    assert error_code(caller.get(IMPORT)) == "605"
    assert stats(sandbox)["jobs"] == {"Queued": 0, "Importing": 0, "Complete": 0, "Failed": 0}


def test_whole_job_failures(sandbox: Service) -> None:
    caller = Caller(sandbox)
    cases: dict[str | bytes, str] = {
        "email,email\na@example.com,b@example.com\n": "duplicate column 'email' in header",
        b"email\n\xff\xfe@example.com\n": "not valid UTF-8",
        'email\n"unterminated@example.com\n': "malformed file",
    }
    for content, reason in cases.items():
        batch = caller.submit(IMPORT, content, format="csv")
        result = caller.wait_done(status_path(batch))
        assert result["status"] == "Failed"
        assert result["message"].startswith("Import failed: ")
        assert reason in result["message"]
        assert result["numOfLeadsProcessed"] == result["numOfRowsFailed"] == 0
        assert caller.get(f"/bulk/v1/leads/batch/{batch}/failures.json").status_code == 404


def test_batch_id_valid_for_seven_days(sandbox: Service) -> None:
    caller = Caller(sandbox)
    batch = caller.submit(IMPORT, "email\na@example.com\n", format="csv")
    caller.wait_done(status_path(batch))
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 6 * 86400})
    caller.token()
    assert caller.get_json(status_path(batch))["result"][0]["status"] == "Complete"
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 86400 + 60})
    caller.token()
    assert error_code(caller.get(status_path(batch))) == "1003"
