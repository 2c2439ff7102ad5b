"""Loads through Marketo's Data Ingestion API, end to end: real workers, Redis, S3 and sandbox."""

from __future__ import annotations

from typing import Any

from tests.pipeline_helpers import (
    Pipeline,
    assert_rows_accounted,
    lead_rows,
    put_dataset,
    read_object,
    read_report,
)
from tests.sandbox_helpers import admin, configure, drain, ingestion_request, records
from tests.services import SANDBOX_CLIENT_SECRET, Service, wait_for

HEADER = "email,firstName,lastName,leadScore\n"


def test_an_ingestion_load_sends_typed_rows_and_accounts_for_every_one(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    good = list(lead_rows(1500))
    bad_type = ["typo@example.com,Bad,Score,not-a-number\n"]  # refused before it is sent
    body = HEADER + "".join(good[:700] + bad_type + ["\n"] + good[700:])
    source = put_dataset(s3_client, bucket, "in/leads.csv", body)
    pipeline.start_worker("a")
    pipeline.start_worker("b")

    load_id = pipeline.start_load(source=source, object="leads", api="ingestion")
    load = pipeline.wait_until_finished(load_id)

    assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    totals = report["totals"]
    assert (totals["rows_read"], totals["rows_skipped"]) == (1502, 1)
    assert (totals["rows_processed"], totals["rows_failed"]) == (1500, 1)
    assert totals["chunks"] > 10, "small chunks: many go through the ingestion lane"
    assert report["sending"] == {
        "rows_read": 1502,
        "rows_skipped": 1,
        "rows_rejected_before_sending": 1,  # not of its field's type
        "rows_sent": 1500,
        "rows_accepted": 1500,
        "rows_in_refused_requests": 0,
        "rows_not_sent": 0,
        "requests_accepted": totals["chunks"],
        "requests_refused": 0,
    }
    [failures] = [c["failures_file"] for c in report["chunks"] if c["failures_file"]]
    text = read_object(s3_client, failures).decode()
    assert (
        'typo@example.com,Bad,Score,not-a-number,"field leadScore: ""not-a-number"" is not an'
        in text
    )

    drain(sandbox)
    stats = admin(sandbox, "GET", "/_sandbox/stats")
    assert stats["records"]["leads"] == 1500
    assert stats["max_outstanding_jobs"] == 0, "no bulk import job was created"
    [lead] = records(sandbox, "leads", email="lead7@example.com")
    assert lead["leadScore"] == 27 and lead["lastName"] == "Last, 7"
    ingestion = admin(sandbox, "GET", "/_sandbox/ingestion/stats")
    assert ingestion["requests"]["applied"] == totals["chunks"]
    assert totals["api_calls"] == totals["chunks"], "one call per request, none to read status"
    assert report["api"] == "ingestion" and "Observability Data Stream" in report["api_note"]
    request_id = report["chunks"][0]["message"].split(": ", 1)[1].split(", ")[0]
    assert ingestion_request(sandbox, request_id)["status"] == "applied"
    assert SANDBOX_CLIENT_SECRET not in pipeline.logs()


def test_program_members_by_ingestion_need_a_lead_id_column_and_say_so_before_sending(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    source = put_dataset(s3_client, bucket, "in/pm.csv", "email\nann@example.com\n")
    pipeline.start_worker("a", concurrency=1)
    load_id = pipeline.start_load(
        source=source,
        object="programmembers",
        programId=1002,
        programMemberStatus="On List",
        api="ingestion",
    )
    load = pipeline.wait_until_finished(load_id)
    assert load["state"] == "failed"
    assert (
        "missing member field 'leadId' (the Data Ingestion API adds program members by "
        "their Marketo lead id)" in load["error"]
    )
    assert admin(sandbox, "GET", "/_sandbox/ingestion/stats")["requests"]["applied"] == 0


def test_an_instance_without_the_entitlement_fails_the_load_with_marketos_answer(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    configure(sandbox, ingestion={"entitled": False})
    source = put_dataset(s3_client, bucket, "in/l.csv", HEADER + "".join(lead_rows(5)))
    pipeline.start_worker("a", concurrency=1)
    load_id = pipeline.start_load(source=source, object="leads", api="ingestion")
    load = pipeline.wait_until_finished(load_id)
    assert load["state"] == "failed"
    report = read_report(s3_client, load["report_uri"])
    [chunk] = report["chunks"]
    assert chunk["state"] == "failed"
    assert chunk["message"].startswith("Marketo 4030801: POST /persons: Unauthorized (4030801)")
    assert "the instance is not entitled to the Data Ingestion API" in chunk["message"]
    assert drain(sandbox) == 0


def test_custom_objects_by_ingestion_are_typed_by_their_describe(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    rows = [f"V{n},Ford,T,{1900 + n % 100},2026-0{1 + n % 9}-1{n % 10}\n" for n in range(400)]
    rows[123] = "V123,Ford,T,nineteen,2026-01-01\n"  # year is an integer field
    rows[321] = "V321,Ford,T,1925,2026-02-30\n"  # no such date
    body = "vin,make,model,year,purchaseDate\n" + "".join(rows)
    source = put_dataset(s3_client, bucket, "in/cars.csv", body)
    pipeline.start_worker("a")
    load_id = pipeline.start_load(source=source, object="customobjects", apiName="car_c",
                                  api="ingestion")  # fmt: skip
    load = pipeline.wait_until_finished(load_id)

    assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    assert (report["totals"]["rows_processed"], report["totals"]["rows_failed"]) == (398, 2)
    reasons = []
    for chunk in report["chunks"]:
        if chunk["failures_file"]:
            text = read_object(s3_client, chunk["failures_file"]).decode()
            reasons += [line.rsplit(",", 1)[-1] for line in text.splitlines()[1:]]
    assert sorted(reasons) == [
        '"field purchaseDate: ""2026-02-30"" is not a date (YYYY-MM-DD)"',
        '"field year: ""nineteen"" is not an integer"',
    ]
    drain(sandbox)
    [car] = records(sandbox, "car_c", vin="V7")
    assert car["year"] == 1907 and car["purchaseDate"] == "2026-08-17"


def test_custom_objects_by_ingestion_can_be_matched_on_their_marketo_guid(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    cars = put_dataset(s3_client, bucket, "in/cars.csv", "vin,make,model\nV1,Ford,T\nV2,Ford,A\n")
    pipeline.start_worker("a")
    first = pipeline.wait_until_finished(
        pipeline.start_load(source=cars, object="customobjects", apiName="car_c", api="ingestion")
    )
    assert first["state"] == "succeeded", pipeline.logs()[-3000:]
    drain(sandbox)
    [v1] = records(sandbox, "car_c", vin="V1")

    # The GUID names the record: its model changes, its dedupe field (vin) stays. A row
    # without a GUID is refused before sending, naming the field.
    body = f"marketoGUID,vin,model\n{v1['marketoGUID']},V1,Model A\n,V2,Model B\n"
    update = put_dataset(s3_client, bucket, "in/by-guid.csv", body)
    load = pipeline.wait_until_finished(
        pipeline.start_load(
            source=update,
            object="customobjects",
            apiName="car_c",
            api="ingestion",
            dedupeBy="marketoguid",
        )
    )

    assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    assert (report["totals"]["rows_processed"], report["totals"]["rows_failed"]) == (1, 1)
    [chunk] = [c for c in report["chunks"] if c["failures_file"]]
    text = read_object(s3_client, chunk["failures_file"]).decode()
    assert text.splitlines()[1] == (
        ",V2,Model B,field marketoGUID: is empty; Marketo matches each object on it"
    )
    drain(sandbox)
    [renamed] = records(sandbox, "car_c", vin="V1")
    assert (renamed["model"], renamed["marketoGUID"]) == ("Model A", v1["marketoGUID"])
    assert records(sandbox, "car_c", vin="V2")[0]["model"] == "A"


def test_a_custom_object_file_matched_on_marketo_guid_must_carry_it(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    source = put_dataset(s3_client, bucket, "in/no-guid.csv", "vin,model\nV1,Model A\n")
    pipeline.start_worker("a")
    load = pipeline.wait_until_finished(
        pipeline.start_load(
            source=source,
            object="customobjects",
            apiName="car_c",
            api="ingestion",
            dedupeBy="marketoGUID",
        )
    )
    assert load["state"] == "failed"
    assert load["error"] == (
        f"{source}: header does not fit Marketo's car_c: missing dedupe field 'marketoGUID' "
        "(dedupeBy marketoGUID matches each record on it)"
    )


def test_program_members_by_ingestion_join_the_program_by_lead_id(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    leads = put_dataset(s3_client, bucket, "in/l.csv", HEADER + "".join(lead_rows(30)))
    pipeline.start_worker("a")
    first = pipeline.start_load(source=leads, object="leads", api="ingestion")
    assert pipeline.wait_until_finished(first)["state"] == "succeeded"
    drain(sandbox)
    ids = [records(sandbox, "leads", email=f"lead{n}@example.com")[0]["id"] for n in range(30)]
    body = "leadId\n" + "".join(f"{i}\n" for i in ids) + "not-a-lead-id\n"
    source = put_dataset(s3_client, bucket, "in/pm.csv", body)
    load_id = pipeline.start_load(source=source, object="programmembers", programId=1002,
                                  programMemberStatus="On List", api="ingestion")  # fmt: skip
    load = pipeline.wait_until_finished(load_id)

    assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    assert (report["totals"]["rows_processed"], report["totals"]["rows_failed"]) == (30, 1)
    drain(sandbox)
    members = records(sandbox, "program_members", programId=1002)
    assert sorted(m["leadId"] for m in members) == sorted(ids)


def test_marketos_daily_object_quota_makes_the_load_wait_for_the_reset_and_resume(
    pipeline_with: Any, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    pipeline = pipeline_with(CHUNK_BYTE_LIMIT="4096", QUOTA_RECHECK_S="1")
    configure(sandbox, ingestion={"daily_objects": 150})
    source = put_dataset(s3_client, bucket, "in/l.csv", HEADER + "".join(lead_rows(400)))
    pipeline.start_worker("a")
    load_id = pipeline.start_load(source=source, object="leads", api="ingestion")

    def waiting() -> bool:
        return "waiting for the daily quota to reset at" in pipeline.load(load_id).get(
            "waiting", ""
        )

    wait_for(waiting, timeout=60, interval=0.1, what="the load to wait for the daily quota")
    assert pipeline.load(load_id)["state"] == "loading"
    # Midnight in Chicago: Marketo's count starts again, and so does ours.
    configure(sandbox, ingestion={"daily_objects": 10_000})
    for key in pipeline.redis.scan_iter(match="mkto:*:ingestion:daily:*"):
        pipeline.redis.delete(key)
    load = pipeline.wait_until_finished(load_id)
    assert load["state"] == "succeeded", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    assert report["totals"]["rows_processed"] == 400
    assert report["totals"]["quota_waits"] >= 1
    drain(sandbox)
    assert admin(sandbox, "GET", "/_sandbox/stats")["records"]["leads"] == 400
