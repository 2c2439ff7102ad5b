"""A load's Marketo parameters are checked before splitting: real workers, Redis, S3, sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from tests.pipeline_helpers import Pipeline, lead_rows, put_dataset, read_report
from tests.sandbox_helpers import admin
from tests.services import Service
from workers.cli import cli

HEADER = "email,firstName,lastName,leadScore\n"
ROWS = 300  # several chunks at the 4 KiB test limit


@pytest.fixture
def source(s3_client: Any, bucket: str) -> str:
    return put_dataset(s3_client, bucket, "in/leads.csv", HEADER + "".join(lead_rows(ROWS)))


def _fails_before_any_import(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, message: str, **payload: Any
) -> None:
    pipeline.start_worker("a")
    load_id = pipeline.start_load(**payload)
    load = pipeline.wait_until_finished(load_id, timeout=60)

    assert load["state"] == "failed", load
    assert load["error"] == message
    report = read_report(s3_client, load["report_uri"])
    assert (report["state"], report["error"]) == ("failed", message)
    assert report["chunks"] == []
    totals = report["totals"]
    assert (totals["jobs_submitted"], totals["rows_submitted"], totals["chunks"]) == (0, 0, 0)
    status = CliRunner().invoke(cli, ["status", load_id], env={"REDIS_URL": pipeline.redis_url})
    assert status.exit_code == 0, status.output
    assert f"error:     {message}" in status.output.splitlines()
    assert admin(sandbox, "GET", "/_sandbox/jobs") == []
    calls = admin(sandbox, "GET", "/_sandbox/stats")["calls_by_endpoint"]
    assert not [c for c in calls if c.startswith("POST /bulk/")], calls


def test_an_unknown_list_id_fails_the_load_before_any_import(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, source: str
) -> None:
    _fails_before_any_import(
        pipeline, sandbox, s3_client, "listId 1234: no such static list in Marketo",
        source=source, object="leads", listId=1234,
    )  # fmt: skip


def test_an_unknown_partition_fails_the_load_before_any_import(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, source: str
) -> None:
    _fails_before_any_import(
        pipeline, sandbox, s3_client,
        'partitionName "APAC": not a lead partition (known: Default, EMEA)',
        source=source, object="leads", partitionName="APAC",
    )  # fmt: skip


def test_an_unknown_program_fails_the_load_before_any_import(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, source: str
) -> None:
    _fails_before_any_import(
        pipeline, sandbox, s3_client, "programId 4242: no such program in Marketo",
        source=source, object="programmembers", programId=4242, programMemberStatus="Attended",
    )  # fmt: skip


def test_a_misspelled_member_status_fails_the_load_before_any_import(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, source: str
) -> None:
    _fails_before_any_import(
        pipeline, sandbox, s3_client,
        "programMemberStatus \"Atended\": not a status of program 1001's channel "
        '(did you mean "Attended"?)',
        source=source, object="programmembers", programId=1001, programMemberStatus="Atended",
    )  # fmt: skip


def test_correct_parameters_still_load_and_are_looked_up_once(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, source: str
) -> None:
    pipeline.start_worker("a")
    leads = pipeline.start_load(source=source, object="leads", listId=501, partitionName="EMEA")
    members = pipeline.start_load(
        source=source, object="programmembers", programId=1001, programMemberStatus="Attended"
    )
    for load_id in (leads, members):
        load = pipeline.wait_until_finished(load_id)
        assert load["state"] == "succeeded", (load, pipeline.logs()[-3000:])
        totals = read_report(s3_client, load["report_uri"])["totals"]
        assert totals["rows_processed"] == ROWS
        assert totals["chunks"] > 1

    stats = admin(sandbox, "GET", "/_sandbox/stats")
    assert stats["records"]["leads"] == ROWS
    assert stats["records"]["program_members"] == ROWS
    calls = stats["calls_by_endpoint"]
    looked_up = [
        calls.get(f"GET {path}", 0)
        for path in (
            "/rest/v1/lists/{listId}.json",
            "/rest/v1/leads/partitions.json",
            "/rest/asset/v1/program/{id}.json",
            "/rest/asset/v1/channel/byName.json",
        )
    ]
    assert looked_up == [1, 1, 1, 1], calls
    attended = admin(sandbox, "GET", "/_sandbox/records/program_members?statusName=Attended")
    assert attended["count"] == ROWS
