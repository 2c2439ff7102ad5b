"""Several workers, several loads at once: Marketo's queue limits hold and every row is counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.pipeline_helpers import (
    Pipeline,
    assert_rows_accounted,
    lead_rows,
    put_dataset,
    read_report,
)
from tests.sandbox_helpers import admin
from tests.services import Service

HEADER = "email,firstName,lastName,leadScore\n"
ROWS = 4000


@pytest.fixture
def pipeline(pipeline_with: Callable[..., Pipeline], sandbox: Service) -> Pipeline:
    # Marketo's 100 calls per window, with a short window (the sandbox's is set to match).
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": 0.05, "rate_limit_window": 5})
    return pipeline_with(CHUNK_BYTE_LIMIT="4096", MARKETO_RATE_LIMIT_WINDOW_S="5")


def _dataset(start: int) -> bytes:
    rows = list(lead_rows(ROWS, start=start))
    rows[100] = f"typo{start}@example.com,Bad,Score,not-a-number\n"  # Marketo fails this row
    rows[2000] = f"bad<FF>{start}@example.com,Bad,Bytes,1\n"  # bad UTF-8: rejected
    return (HEADER + "".join(rows)).encode().replace(b"<FF>", b"\xff")


def test_three_workers_and_two_loads_keep_marketos_limits_and_lose_no_row(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    sources = [
        put_dataset(s3_client, bucket, f"in/leads-{n}.csv", _dataset(start=n * ROWS))
        for n in range(2)
    ]
    for name in ("a", "b", "c"):
        pipeline.start_worker(name, concurrency=2)

    load_ids = [
        pipeline.start_load(source=source, object="leads", lookupField="email")
        for source in sources
    ]
    reports = []
    for load_id in load_ids:
        load = pipeline.wait_until_finished(load_id, timeout=150)
        assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]
        reports.append(read_report(s3_client, load["report_uri"]))

    for report in reports:
        totals = report["totals"]
        assert totals["chunks"] >= 40
        assert totals["rows_read"] == ROWS
        assert totals["rows_rejected"] == 1
        assert totals["rows_failed"] == 1
        assert totals["rows_processed"] == ROWS - 2
        assert totals["possible_double_submissions"] == 0
        assert_rows_accounted(report)
        assert all(c["state"] == "done" and c["submissions"] == 1 for c in report["chunks"])
    stats = admin(sandbox, "GET", "/_sandbox/stats")
    assert stats["max_outstanding_jobs"] <= 10
    assert stats["max_importing_jobs"] <= 2
    assert stats["too_many_imports_sent"] == 0
    assert stats["jobs"]["Complete"] == sum(r["totals"]["chunks"] for r in reports)
    assert stats["records"]["leads"] == 2 * (ROWS - 2)
