"""``mkto-bulk load`` and ``mkto-bulk status`` as a user runs them: subprocesses, real workers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline_helpers import Pipeline, lead_rows, read_report
from tests.services import SANDBOX_CLIENT_SECRET

ROOT = Path(__file__).resolve().parents[2]
MKTO_BULK = str(Path(sys.executable).with_name("mkto-bulk"))
HEADER = "email,firstName,lastName,leadScore\n"


def cli(pipeline: Pipeline, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    # The CLI is a client: it needs the broker, not Marketo's credentials.
    env = {k: v for k, v in pipeline.env.items() if not k.startswith("MARKETO_")}
    return subprocess.run(
        [MKTO_BULK, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def put_leads(s3_client: Any, bucket: str, key: str, rows: list[str]) -> str:
    s3_client.put_object(Bucket=bucket, Key=key, Body=(HEADER + "".join(rows)).encode())
    return f"s3://{bucket}/{key}"


def test_load_wait_follows_the_load_and_exits_0_with_a_summary(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    rows = list(lead_rows(300))
    rows.insert(100, "typo@example.com,Bad,Score,not-a-number\n")  # Marketo fails this row
    source = put_leads(s3_client, bucket, "in/leads.csv", rows)
    pipeline.start_worker("a")

    result = cli(pipeline, "load", source, "--object", "leads", "--lookup-field", "email", "--wait")

    assert result.returncode == 0, result.stdout + result.stderr + pipeline.logs()[-3000:]
    load_id = result.stdout.splitlines()[0].strip()
    load = pipeline.load(load_id)
    assert load["state"] == "succeeded_with_row_errors"
    assert f"load {load_id} succeeded_with_row_errors" in result.stdout
    assert "300 processed, 1 failed" in result.stdout
    assert f"report: {load['report_uri']}" in result.stdout
    # The progress line went to stderr and reached the end of the load.
    progress = result.stderr.strip().splitlines()
    assert progress and "files split" in progress[-1] and "0 failed;" in progress[-1]
    assert read_report(s3_client, load["report_uri"])["totals"]["rows_failed"] == 1
    assert SANDBOX_CLIENT_SECRET not in result.stdout + result.stderr


def test_a_failed_load_exits_1_and_prints_its_error(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="in/typo.csv", Body=b"emial,firstName\nx@y.z,X\n")
    source = f"s3://{bucket}/in/typo.csv"
    pipeline.start_worker("a", concurrency=1)

    result = cli(pipeline, "load", source, "--object", "leads", "--wait")

    assert result.returncode == 1, result.stdout + result.stderr
    load_id = result.stdout.splitlines()[0].strip()
    assert f"load {load_id} failed" in result.stdout
    assert "error: " in result.stdout and "emial" in result.stdout


def test_an_invalid_request_exits_2_naming_the_field_and_sends_nothing(
    pipeline: Pipeline,
) -> None:
    result = cli(pipeline, "load", "s3://etl/cars.csv", "--object", "customobjects")

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "apiName" in lines[0] and "customobjects" in lines[0], lines
    assert pipeline.redis.llen("celery") == 0, "nothing was enqueued"

    bad_lead = cli(pipeline, "load", "s3://etl/cars.csv", "--object", "leads", "--api-name", "x")
    assert bad_lead.returncode == 2 and "apiName" in bad_lead.stderr
    urgent = cli(pipeline, "load", "s3://etl/cars.csv", "--object", "leads", "--priority", "asap")
    assert urgent.returncode == 2
    assert "'asap' is not one of 'high', 'normal', 'low'" in urgent.stderr


def test_status_lists_recent_loads_and_shows_one_in_detail(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    source = put_leads(s3_client, bucket, "in/small.csv", list(lead_rows(20)))
    assert cli(pipeline, "status").stdout.strip() == "no loads yet"
    started = cli(pipeline, "load", source, "--object", "leads", "--priority", "high")
    assert started.returncode == 0, started.stderr
    load_id = started.stdout.strip()
    pipeline.start_worker("a", concurrency=1)
    load = pipeline.wait_until_finished(load_id, timeout=60)
    assert load["state"] == "succeeded"

    listing = cli(pipeline, "status")
    assert listing.returncode == 0, listing.stderr
    header, *rows = listing.stdout.strip().splitlines()
    assert header.split()[:3] == ["LOAD", "ID", "STATE"]
    assert len(rows) == 1 and rows[0].split()[:3] == [load_id, "succeeded", "leads"]
    assert rows[0].rstrip().endswith(source)

    detail = cli(pipeline, "status", load_id)
    assert detail.returncode == 0, detail.stderr
    text = detail.stdout
    assert f"load:      {load_id}" in text and "state:     succeeded" in text
    assert "priority:  high" in text
    assert "20 read, 0 rejected, 20 submitted" in text and "20 processed, 0 failed" in text
    assert "error:     -" in text
    assert f"report:    {load['report_uri']}" in text

    as_json = json.loads(cli(pipeline, "status", load_id, "--json").stdout)
    assert as_json["state"] == "succeeded" and as_json["rows_processed"] == 20
    assert as_json["report_uri"] == load["report_uri"]

    missing = cli(pipeline, "status", "no-such-load")
    assert missing.returncode == 1 and "no load 'no-such-load'" in missing.stderr


def test_the_same_idempotency_key_prints_the_same_load_id(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    source = put_leads(s3_client, bucket, "in/nightly.csv", list(lead_rows(5)))
    pipeline.start_worker("a", concurrency=1)
    args = ("load", source, "--object", "leads", "--idempotency-key", "nightly:2026-11-22")
    first, second = cli(pipeline, *args, "--wait"), cli(pipeline, *args)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.splitlines()[0] == second.stdout.strip()
    assert len(pipeline.redis.zrange("mkto:loads", 0, -1)) == 1


def test_the_python_function_checks_the_payload_then_starts_and_reports_the_load(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    from workers.api import load_status, recent_loads, start_load
    from workers.errors import InputError

    url = pipeline.redis_url
    with pytest.raises(InputError, match="programId: required"):
        start_load({"source": "s3://etl-out/k.csv", "object": "programmembers"}, redis_url=url)
    assert pipeline.redis.llen("celery") == 0

    source = put_leads(s3_client, bucket, "in/api.csv", list(lead_rows(10)))
    pipeline.start_worker("a", concurrency=1)
    load_id = start_load({"source": source, "object": "leads"}, wait=True, redis_url=url)
    status = load_status(load_id, redis_url=url)
    assert status.state == "succeeded" and status.ok and status.terminal
    assert (status.rows_read, status.rows_processed, status.rows_failed) == (10, 10, 0)
    assert status.chunks.done == status.chunks_total == status.chunks.split == 1
    assert status.report_uri == f"{status.staging_uri}/report.json"
    assert [s.load_id for s in recent_loads(5, redis_url=url)] == [load_id]
