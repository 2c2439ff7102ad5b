"""Companies and static-list members, the two objects only the Data Ingestion API has, end to end:
real workers, Redis, S3 and sandbox, with planted bad rows whose counts add up, and the
files refused before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.pipeline_helpers import (
    Pipeline,
    assert_rows_accounted,
    put_dataset,
    read_object,
    read_report,
)
from tests.sandbox_helpers import Caller, admin, drain, records
from tests.services import Service
from workers.errors import InputError

COMPANY_HEADER = "externalCompanyId,company,numberOfEmployees,annualRevenue\n"
LIST_ID = 501  # the sandbox's "Bulk Import List"


def company_rows(count: int) -> list[str]:
    return [f"C-{i},Company {i},{i},{i * 1.5}\n" for i in range(count)]


def failures_text(s3_client: Any, report: dict[str, Any]) -> str:
    texts = []
    for uri in (c["failures_file"] for c in report["chunks"] if c["failures_file"]):
        texts.append(read_object(s3_client, uri).decode())
    return "".join(texts)


def sent_requests(sandbox: Service) -> int:
    return int(admin(sandbox, "GET", "/_sandbox/ingestion/requests")["count"])


def test_companies_load_by_ingestion_with_every_row_accounted_for(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    good = company_rows(1200)
    planted = [
        "C-bad-1,Not A Count,many,10\n",  # not an integer: fails alone, before sending
        "C-bad-2,Not Money,5,lots\n",  # not a number
        ",No Key,5,1\n",  # no externalCompanyId: fails alone (Marketo would refuse its request)
        'C-bad-3,Ac"me,5,1\n',  # broken quoting: rejected by the split
        "\n",  # a blank line: skipped
    ]
    body = COMPANY_HEADER + "".join(good[:600] + planted + good[600:])
    source = put_dataset(s3_client, bucket, "in/companies.csv", body)
    pipeline.start_worker("a")
    pipeline.start_worker("b")

    load = pipeline.wait_until_finished(
        pipeline.start_load(source=source, object="companies", api="ingestion")
    )

    assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    totals = report["totals"]
    assert (totals["rows_read"], totals["rows_rejected"], totals["rows_skipped"]) == (1205, 1, 1)
    assert (totals["rows_processed"], totals["rows_failed"]) == (1200, 3)
    sending = report["sending"]
    # 1 bad record (the split) + 3 cells or keys the encoding refused; nothing refused by Marketo.
    assert (sending["rows_rejected_before_sending"], sending["rows_sent"]) == (4, 1200)
    text = failures_text(s3_client, report)
    assert (
        'C-bad-1,Not A Count,many,10,"field numberOfEmployees: ""many"" is not an integer"' in text
    )
    assert 'C-bad-2,Not Money,5,lots,"field annualRevenue: ""lots"" is not a number"' in text
    assert (
        ",No Key,5,1,field externalCompanyId: is empty; Marketo matches each object on it" in text
    )
    drain(sandbox)
    assert admin(sandbox, "GET", "/_sandbox/records/companies")["count"] == 1200
    [company] = records(sandbox, "companies", externalCompanyId="C-7")
    assert (company["company"], company["numberOfEmployees"], company["annualRevenue"]) == (
        "Company 7",
        7,
        10.5,
    )
    assert admin(sandbox, "GET", "/_sandbox/stats")["max_outstanding_jobs"] == 0

    # Updates by Marketo's own id: action updateOnly, dedupeBy idField (any case).
    company_id = company["id"]
    update = put_dataset(s3_client, bucket, "in/by-id.csv", f"id,company\n{company_id},Renamed\n")
    load = pipeline.wait_until_finished(
        pipeline.start_load(
            source=update,
            object="companies",
            api="ingestion",
            action="updateOnly",
            dedupeBy="idfield",
        )
    )
    assert load["state"] == "succeeded", pipeline.logs()[-3000:]
    drain(sandbox)
    [renamed] = records(sandbox, "companies", id=company_id)
    assert (renamed["company"], renamed["externalCompanyId"]) == ("Renamed", "C-7")


def test_a_company_file_with_both_id_and_external_company_id_is_refused_before_sending(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    both = "id,externalCompanyId,company\n1,C-1,Acme\n"
    source = put_dataset(s3_client, bucket, "in/both.csv", both)
    pipeline.start_worker("a", concurrency=1)
    for dedupe in ({}, {"action": "updateOnly", "dedupeBy": "idField"}):
        load = pipeline.wait_until_finished(
            pipeline.start_load(source=source, object="companies", api="ingestion", **dedupe)
        )
        assert load["state"] == "failed"
        assert (
            "columns 'id' and 'externalCompanyId' cannot be in the same file; give one "
            "(Marketo matches a company on one: externalCompanyId with dedupeBy dedupeFields, "
            "id with dedupeBy idField)" in load["error"]
        )
    key_only = put_dataset(s3_client, bucket, "in/ids.csv", "id,company\n1,Acme\n")
    load = pipeline.wait_until_finished(
        pipeline.start_load(source=key_only, object="companies", api="ingestion")
    )
    assert load["state"] == "failed"
    assert (
        "missing dedupe field 'externalCompanyId' (dedupeBy dedupeFields matches companies on "
        "externalCompanyId)" in load["error"]
    )
    assert sent_requests(sandbox) == 0


def test_a_company_load_without_the_ingestion_api_is_refused_at_the_door(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    source = put_dataset(s3_client, bucket, "in/c.csv", COMPANY_HEADER + "C-1,Acme,1,1\n")
    pipeline.start_worker("a", concurrency=1)
    result = pipeline.celery().send_task(
        "mkto_bulk.start_load", kwargs={"source": source, "object": "companies"}
    )
    with pytest.raises(InputError) as caught:
        result.get(timeout=60)
    assert str(caught.value) == (
        'invalid load request: api: Marketo has no bulk import of companies; set "api": '
        '"ingestion" to load them through its Data Ingestion API'
    )
    assert pipeline.redis.keys("mkto:load:*") == []


def create_leads(sandbox: Service, count: int) -> None:
    """``count`` leads in the sandbox (lead ids 1 to ``count``), by a bulk import."""
    caller = Caller(sandbox)
    lines = "".join(f"member{i}@example.com\n" for i in range(count))
    batch = caller.submit("/bulk/v1/leads.json", "email\n" + lines, format="csv")
    status = caller.wait_done(f"/bulk/v1/leads/batch/{batch}.json")
    assert status["numOfLeadsProcessed"] == count, status


def test_list_members_are_added_and_removed_by_lead_id_with_every_row_accounted_for(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    create_leads(sandbox, 1100)
    ids = [f"{i}\n" for i in range(1, 1101)]
    planted = ["abc\n", "12.5\n", "\n"]  # two lead ids that are not integers, a blank line
    source = put_dataset(s3_client, bucket, "in/members.csv",
                         "leadId\n" + "".join(ids[:500] + planted + ids[500:]))  # fmt: skip
    pipeline.start_worker("a")
    pipeline.start_worker("b")

    load = pipeline.wait_until_finished(
        pipeline.start_load(source=source, object="listmembers", listId=LIST_ID, api="ingestion")
    )

    assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    totals = report["totals"]
    assert (totals["rows_read"], totals["rows_rejected"], totals["rows_skipped"]) == (1103, 0, 1)
    assert (totals["rows_processed"], totals["rows_failed"]) == (1100, 2)
    text = failures_text(s3_client, report)
    assert 'abc,"field leadId: ""abc"" is not an integer"' in text
    assert '12.5,"field leadId: ""12.5"" is not an integer"' in text
    drain(sandbox)
    members = records(sandbox, "list_members", listId=LIST_ID)
    assert sorted(m["leadId"] for m in members) == list(range(1, 1101))

    removed = put_dataset(s3_client, bucket, "in/leavers.csv",
                          "leadId\n" + "".join(ids[:100]))  # fmt: skip
    load = pipeline.wait_until_finished(
        pipeline.start_load(
            source=removed,
            object="listmembers",
            listId=LIST_ID,
            listAction="remove",
            api="ingestion",
        )
    )
    assert load["state"] == "succeeded", pipeline.logs()[-3000:]
    drain(sandbox)
    members = records(sandbox, "list_members", listId=LIST_ID)
    assert sorted(m["leadId"] for m in members) == list(range(101, 1101))


def test_a_list_member_file_without_lead_ids_or_for_a_missing_list_is_refused_before_sending(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    source = put_dataset(s3_client, bucket, "in/emails.csv", "email\nann@example.com\n")
    pipeline.start_worker("a", concurrency=1)
    load = pipeline.wait_until_finished(
        pipeline.start_load(source=source, object="listmembers", listId=LIST_ID, api="ingestion")
    )
    assert load["state"] == "failed"
    assert (
        "missing member field 'leadId' (the Data Ingestion API adds to a static list and "
        "removes from it by lead id)" in load["error"]
    )
    ids = put_dataset(s3_client, bucket, "in/ids.csv", "leadId\n1\n")
    load = pipeline.wait_until_finished(
        pipeline.start_load(source=ids, object="listmembers", listId=999, api="ingestion")
    )
    assert load["state"] == "failed"
    assert "listId 999: no such static list in Marketo" in load["error"]
    assert sent_requests(sandbox) == 0
