"""Fair share with real workers, measured in the sandbox's own job timeline.

A big normal load fills Marketo's queue; then a small high-priority load and
two normal loads start. The high load's jobs are the next submitted, and the
normal loads take turns with the big one, one job each.
"""

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
from tests.services import Service, wait_for
from workers.state.admission import Admission

HEADER = "email,firstName,lastName,leadScore\n"
ROWS_PER_CHUNK = 76  # rows of leads 100000 to 999999 are 53 bytes: 76 fill a 4,096-byte chunk
JOB_S = 0.4  # each job imports this long in the sandbox, two at a time

pytestmark = pytest.mark.serial  # it times a submission against the permit that freed it


@pytest.fixture
def pipeline(pipeline_with: Callable[..., Pipeline], sandbox: Service) -> Pipeline:
    # Jobs slow enough that the order of submissions is the admission's, not the workers'.
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": JOB_S})
    return pipeline_with(CHUNK_BYTE_LIMIT="4096", POLL_MIN_S="0.1")


def _source(s3_client: Any, bucket: str, name: str, chunks: int, start: int) -> str:
    rows = "".join(lead_rows(chunks * ROWS_PER_CHUNK, start=start))
    return put_dataset(s3_client, bucket, f"in/{name}.csv", HEADER + rows)


def _timeline(pipeline: Pipeline, sandbox: Service, loads: dict[str, str]) -> list[dict[str, Any]]:
    """Every job in the order the sandbox created it, named by the load it belongs to."""
    by_batch = {
        chunk["batch_id"]: name
        for name, load_id in loads.items()
        for chunk in pipeline.chunks(load_id)
        if chunk.get("batch_id")
    }
    jobs = sorted(admin(sandbox, "GET", "/_sandbox/jobs"), key=lambda job: job["batchId"])
    return [{**job, "load": by_batch[str(job["batchId"])]} for job in jobs]


def test_a_high_load_goes_first_and_normal_loads_take_turns_within_the_limit(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    big = _source(s3_client, bucket, "big", 60, 100_000)
    urgent = _source(s3_client, bucket, "urgent", 5, 200_000)
    first, second = (_source(s3_client, bucket, f"n{n}", 10, n * 300_000) for n in (1, 2))
    pipeline.start_worker("a", concurrency=2)
    pipeline.start_worker("b", concurrency=2)
    loads = {"big": pipeline.start_load(source=big, object="leads")}
    instance = sandbox.url.split("://", 1)[1].rstrip("/")
    admission = Admission(pipeline.redis, instance)

    def big_holds_the_queue() -> bool:  # every permit, none of them mid-upload, more in line
        snapshot = admission.snapshot()
        uploading = [c for c in pipeline.chunks(loads["big"]) if c["state"] == "submitting"]
        return snapshot.outstanding == 10 and not uploading and snapshot.waiting >= 20

    wait_for(big_holds_the_queue, timeout=90, interval=0.02, what="the big load to fill the queue")
    loads["urgent"] = pipeline.start_load(source=urgent, object="leads", priority="high")
    loads["first"] = pipeline.start_load(source=first, object="leads")
    loads["second"] = pipeline.start_load(source=second, object="leads")
    for load_id in loads.values():
        load = pipeline.wait_until_finished(load_id, timeout=180)
        assert load["state"] == "succeeded", pipeline.logs()[-3000:]
        assert_rows_accounted(read_report(s3_client, load["report_uri"]))

    timeline = _timeline(pipeline, sandbox, loads)
    assert len(timeline) == 85
    # The urgent load's jobs come next: from the moment its first chunk was in line, at
    # most one other job (a grant already under way) is submitted before its first, and
    # at most two others among its own.
    in_line = float(pipeline.chunk(loads["urgent"], 0)["created_at"])
    after = [job for job in timeline if job["queued_at"] >= in_line]
    urgent_at = [n for n, job in enumerate(after) if job["load"] == "urgent"]
    assert len(urgent_at) == 5
    assert urgent_at[0] <= 1, [job["load"] for job in after[:8]]
    assert urgent_at[-1] - urgent_at[0] <= 4 + 2, [job["load"] for job in after[:10]]
    # ... as soon as a permit is free: within a second of the first job our polls saw end.
    freed = min(
        float(chunk["finished_at"])
        for chunk in pipeline.chunks(loads["big"])
        if float(chunk["finished_at"]) > in_line
    )
    assert after[urgent_at[0]]["queued_at"] - freed < 1.5
    # In Marketo's timeline, it waits only for the big load's jobs that were in the queue
    # before it, plus at most two submitted after it arrived.
    urgent_done = max(job["finished_at"] for job in after if job["load"] == "urgent")
    let_in = [j for j in after if j["load"] == "big" and j["started_at"] < urgent_done]
    assert len(let_in) <= 2, let_in
    # The two normal loads started together take turns: their submitted jobs never differ
    # by more than two, while the big load gets its turn between theirs.
    counts = {"first": 0, "second": 0}
    big_turns = 0
    for job in after:
        if job["load"] in counts:
            counts[job["load"]] += 1
            assert abs(counts["first"] - counts["second"]) <= 2, [j["load"] for j in after]
        elif job["load"] == "big" and 0 < counts["first"] < 10:
            big_turns += 1
    assert 5 <= big_turns <= 12, [j["load"] for j in after]
    stats = admin(sandbox, "GET", "/_sandbox/stats")
    assert 8 <= stats["max_outstanding_jobs"] <= 10, "the queue was full, never above the limit"
    assert stats["too_many_imports_sent"] == 0
