"""The Data Ingestion importer against the sandbox: typed objects, request limits, refusals,
and a submit repeated after a crash that sends only what was not answered."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.marketo_helpers import make_client
from tests.sandbox_helpers import admin, configure, drain, records
from tests.services import Service
from workers.errors import IngestionNotEntitled, MarketoTransportError
from workers.importers import Job, ResultFile
from workers.importers.ingestion import IngestionImporter
from workers.marketo import Upload
from workers.objects.companies import CompanyImport
from workers.objects.leads import LeadImport
from workers.objects.program_members import ProgramMemberImport


@pytest.fixture
def importer(sandbox: Service, redis_url: str) -> IngestionImporter:
    return IngestionImporter(make_client(sandbox, redis_url))


def leads_file(count: int, extra: str = "") -> bytes:
    lines = ["email,firstName,leadScore,unsubscribed"]
    lines += [f"p{i}@example.com,P{i},{i},false" for i in range(count)]
    return ("\n".join(lines) + "\n" + extra).encode()


def failures(importer: IngestionImporter, job_id: str, rows: int) -> list[list[str]]:
    out = io.BytesIO()
    target = LeadImport()
    assert importer.result_file(target, Job(job_id, rows), ResultFile.FAILURES, out)
    return list(csv.reader(io.StringIO(out.getvalue().decode())))


def requests_of(sandbox: Service, job_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = admin(
        sandbox, "GET", f"/_sandbox/ingestion/requests?correlation_id={job_id}"
    )["requests"]
    return found


def test_typed_rows_are_sent_and_a_cell_not_of_its_type_fails_its_row_alone(
    sandbox: Service, importer: IngestionImporter
) -> None:
    data = leads_file(3, extra="bad@example.com,Bad,high,false\n")
    status = importer.submit(LeadImport(), Upload.from_bytes(data, key="s3://b/l/chunk-0.csv"))
    assert (status.state.value, status.records_processed, status.rows_failed) == ("Complete", 3, 1)
    header, *rows = failures(importer, status.job_id, 4)
    assert header == ["email", "firstName", "leadScore", "unsubscribed", "Import Failure Reason"]
    assert rows == [
        ["bad@example.com", "Bad", "high", "false", 'field leadScore: "high" is not an integer']
    ]
    drain(sandbox)
    [lead] = records(sandbox, "leads", email="p2@example.com")
    assert lead["leadScore"] == 2 and lead["unsubscribed"] is False


def test_a_chunk_goes_in_requests_of_at_most_1000_objects(
    sandbox: Service, importer: IngestionImporter
) -> None:
    status = importer.submit(LeadImport(), Upload.from_bytes(leads_file(2_500), key="big"))
    assert status.records_processed == 2_500 and status.rows_failed == 0
    sent = requests_of(sandbox, status.job_id)
    assert sorted(r["objects"] for r in sent) == [500, 1_000, 1_000]
    assert status.message is not None and "3 requests accepted" in status.message


def test_a_refused_request_fails_its_rows_with_marketos_code_and_message(
    sandbox: Service, importer: IngestionImporter
) -> None:
    target = ProgramMemberImport(program_id=1002, program_member_status="Member")
    data = b"email\nann@example.com\nbob@example.com\n"  # no leadId column
    status = importer.submit(target, Upload.from_bytes(data, key="pm"))
    assert (status.records_processed, status.rows_failed) == (0, 2)
    _, *rows = failures(importer, status.job_id, 2)
    assert [row[0] for row in rows] == ["ann@example.com", "bob@example.com"]
    assert all(row[1].startswith("4000802: POST /programmembers: Invalid data") for row in rows)


def test_a_repeated_submit_sends_only_the_requests_not_answered(
    sandbox: Service, importer: IngestionImporter
) -> None:
    upload = Upload.from_bytes(leads_file(2_500), key="s3://b/l/chunk-7.csv")
    importer.submit(LeadImport(), Upload.from_bytes(leads_file(1), key="warm-up"))
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "drop", "count": 1, "after": 1})
    with pytest.raises(MarketoTransportError) as raised:
        importer.submit(LeadImport(), upload)  # the second request's answer is lost
    assert raised.value.maybe_sent
    job_id = admin(sandbox, "GET", "/_sandbox/ingestion/requests")["requests"][-1]["correlation_id"]
    interrupted = importer.status(LeadImport(), Job(job_id, 2_500))
    assert interrupted.state.value == "Importing"  # not every request is answered yet
    status = importer.submit(LeadImport(), upload)  # the submit step repeats it
    assert (status.records_processed, status.rows_failed) == (2_500, 0)
    sent = requests_of(sandbox, status.job_id)
    assert len(sent) == 4  # 3 requests, the one whose answer was lost sent twice
    drain(sandbox)
    assert len(records(sandbox, "leads", email="p2499@example.com")) == 1


def test_an_instance_without_the_entitlement_fails_the_chunk_plainly(
    sandbox: Service, importer: IngestionImporter
) -> None:
    configure(sandbox, ingestion={"entitled": False})
    with pytest.raises(IngestionNotEntitled, match="not entitled"):
        importer.submit(LeadImport(), Upload.from_bytes(leads_file(2), key="x"))
    assert drain(sandbox) == 0


def test_a_row_without_the_key_marketo_matches_on_fails_alone_before_sending(
    sandbox: Service, importer: IngestionImporter
) -> None:
    data = b"ExternalCompanyId,company\nC-1,Acme\n,No Key\nC-2,Globex\n"  # any case, as Marketo
    status = importer.submit(CompanyImport(), Upload.from_bytes(data, key="companies"))
    assert (status.records_processed, status.rows_failed) == (2, 1)
    _, *rows = failures(importer, status.job_id, 3)
    assert rows == [["", "No Key", "field externalCompanyId: is empty; Marketo matches each "
                     "object on it"]]  # fmt: skip
    drain(sandbox)
    assert admin(sandbox, "GET", "/_sandbox/records/companies")["count"] == 2
