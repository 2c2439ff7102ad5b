"""A 9.9 MB upload is streamed: the process's memory grows far less than the file."""

from __future__ import annotations

import multiprocessing
from typing import Any

from tests.marketo_helpers import spec_for, upload_memory_main
from tests.sandbox_helpers import admin
from tests.services import Service

SIZE = 9_900_000


def measure(sandbox: Service, redis_url: str, *, buffered: bool) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    spec = spec_for(sandbox, redis_url, 0)
    child = context.Process(target=upload_memory_main, args=(spec, SIZE, results, buffered))
    child.start()
    outcome: dict[str, Any] = results.get(timeout=60)
    child.join(10)
    return outcome


def test_a_streamed_upload_keeps_memory_growth_well_below_the_file_size(
    sandbox: Service, redis_url: str
) -> None:
    streamed = measure(sandbox, redis_url, buffered=False)
    assert streamed["growth_bytes"] < SIZE / 10, streamed
    jobs = admin(sandbox, "GET", "/_sandbox/jobs")
    assert any(job["batchId"] == streamed["batch_id"] for job in jobs)
    # Control: the same measurement sees a file that is read whole.
    buffered = measure(sandbox, redis_url, buffered=True)
    assert buffered["growth_bytes"] > SIZE * 0.9, buffered
