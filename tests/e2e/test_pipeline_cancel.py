"""Cancel and resume with real workers, SIGKILLed right after each request took effect.

A cancel or a resume is one atomic step in Redis (the command line makes it)
and then the workers' steps. Here each request is made and the only worker is
killed at once, in the middle of whatever it was doing (polls, uploads, the
cancel's or resume's own steps); a new worker and beat's reconciler must
finish the job: the cancel sends nothing more and its jobs in Marketo finish;
the resume sends every row the cancel held back, and none twice.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline_helpers import (
    FAST_RECOVERY,
    Pipeline,
    assert_rows_accounted,
    lead_rows,
    put_dataset,
    read_object,
    read_report,
)
from tests.sandbox_helpers import admin
from tests.services import SANDBOX_CLIENT_SECRET, Service, wait_for
from workers.state.control import LoadControl

ROOT = Path(__file__).resolve().parents[2]
MKTO_BULK = str(Path(sys.executable).with_name("mkto-bulk"))
HEADER = "email,firstName,lastName,leadScore\n"
ROWS_PER_CHUNK = 76  # rows of leads 100000 to 999999 are 53 bytes: 76 fill a 4,096-byte chunk
CHUNKS = 24


@pytest.fixture
def pipeline(pipeline_with: Callable[..., Pipeline], sandbox: Service) -> Pipeline:
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": 0.3})  # jobs in flight
    return pipeline_with(**FAST_RECOVERY)


def cli(pipeline: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in pipeline.env.items() if not k.startswith("MARKETO_")}
    return subprocess.run([MKTO_BULK, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=90, check=False)  # fmt: skip


def _kill_and_replace(pipeline: Pipeline, name: str) -> None:
    (worker,) = pipeline.workers
    pipeline.kill_worker(worker)
    pipeline.start_worker(name, concurrency=2)


def _stored(sandbox: Service, row: int) -> bool:
    email = f"lead{100_000 + row}@example.com"
    return bool(admin(sandbox, "GET", f"/_sandbox/records/leads?email={email}")["count"])


def test_a_cancel_and_a_resume_each_survive_a_killed_worker_and_send_every_row_once(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    body = HEADER + "".join(lead_rows(CHUNKS * ROWS_PER_CHUNK, start=100_000))
    source = put_dataset(s3_client, bucket, "in/leads.csv", body)
    pipeline.start_beat()
    pipeline.start_worker("w1", concurrency=2)
    load_id = pipeline.start_load(source=source, object="leads")
    wait_for(lambda: int(pipeline.load(load_id).get("chunks_done") or 0) >= 3, timeout=60,
             interval=0.05, what="three chunks done")  # fmt: skip

    # The cancel takes effect, and the worker dies in the middle of its jobs.
    assert LoadControl(pipeline.redis).request_cancel(load_id).outcome == "cancelling"
    _kill_and_replace(pipeline, "w2")

    load = pipeline.wait_until_finished(load_id, timeout=90)
    assert load["state"] == "cancelled", pipeline.logs()[-3000:]
    report = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(report)
    states = {c["state"] for c in report["chunks"]}
    assert states == {"done", "cancelled"}, states
    done = {c["chunk"]: c["batch_id"] for c in report["chunks"] if c["state"] == "done"}
    cancelled = [c for c in report["chunks"] if c["state"] == "cancelled"]
    assert len(done) >= 3 and cancelled and report["totals"]["rows_cancelled"] > 0
    # What Marketo has is exactly the chunks sent: none of a cancelled chunk's rows.
    jobs = admin(sandbox, "GET", "/_sandbox/jobs")
    doubles = report["totals"]["possible_double_submissions"]
    assert len(done) <= len(jobs) <= len(done) + doubles  # a POST cut short may have run too
    assert all(j["status"] == "Complete" for j in jobs), "every job sent was let finish"
    for chunk in cancelled:
        assert not _stored(sandbox, chunk["chunk"] * ROWS_PER_CHUNK), chunk
    assert admin(sandbox, "GET", "/_sandbox/records/leads")["count"] == len(done) * ROWS_PER_CHUNK
    # The results file says the same, row by row: a cancelled chunk's rows were not sent.
    data = gzip.decompress(read_object(s3_client, report["results_file"]))
    rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
    by_chunk = {int(c["chunk"]) for c in cancelled}
    unsent = [r for r in rows if int(r["chunk"]) in by_chunk]
    assert len(unsent) == report["totals"]["rows_cancelled"]
    assert {(r["outcome"], r["reason"]) for r in unsent} == {
        ("not_sent", "cancelled: the load was cancelled before this chunk was sent")
    }
    assert {r["outcome"] for r in rows if int(r["chunk"]) in done} == {"processed"}

    again = cli(pipeline, "cancel", load_id)
    assert again.returncode == 0 and "already cancelled; nothing changed" in again.stdout
    status = cli(pipeline, "status", load_id).stdout
    assert "state:     cancelled" in status and "not sent" in status, status

    # The resume takes effect, and the worker dies before it puts the chunks back; its
    # successor dies again in the middle of the resumed jobs.
    assert LoadControl(pipeline.redis).request_resume(load_id).outcome == "resumed"
    _kill_and_replace(pipeline, "w3")
    loading = cli(pipeline, "resume", load_id)
    assert loading.returncode == 0 and "nothing to resume" in loading.stdout, loading.stdout
    wait_for(lambda: int(pipeline.load(load_id).get("chunks_done") or 0) >= len(done) + 2,
             timeout=60, interval=0.05, what="two resumed chunks done")  # fmt: skip
    _kill_and_replace(pipeline, "w4")

    load = pipeline.wait_until_finished(load_id, timeout=90)
    assert load["state"] == "succeeded", pipeline.logs()[-3000:]
    assert load["report_uri"].endswith("/report-resume-1.json")
    resumed = read_report(s3_client, load["report_uri"])
    assert_rows_accounted(resumed)
    assert resumed["totals"]["rows_processed"] == CHUNKS * ROWS_PER_CHUNK
    assert {c["state"] for c in resumed["chunks"]} == {"done"}
    again_done = {c["chunk"]: c["batch_id"] for c in resumed["chunks"] if c["chunk"] in done}
    assert again_done == done, "chunks done before the cancel were not sent again"
    jobs = admin(sandbox, "GET", "/_sandbox/jobs")
    assert CHUNKS <= len(jobs) <= CHUNKS + resumed["totals"]["possible_double_submissions"]
    assert admin(sandbox, "GET", "/_sandbox/records/leads")["count"] == CHUNKS * ROWS_PER_CHUNK
    stats = admin(sandbox, "GET", "/_sandbox/stats")
    assert stats["max_outstanding_jobs"] <= 10 and stats["too_many_imports_sent"] == 0

    refused = cli(pipeline, "resume", load_id)
    assert refused.returncode == 1
    assert "succeeded: there is nothing to resume" in refused.stderr, refused.stderr
    as_json = json.loads(cli(pipeline, "status", load_id, "--json").stdout)
    assert as_json["resumes"] == 1 and as_json["rows_cancelled"] == 0
    shown = again.stdout + status + loading.stdout + refused.stderr + pipeline.logs()
    assert SANDBOX_CLIENT_SECRET not in shown + json.dumps([report, resumed])
