"""Pipeline benchmark: does a load keep Marketo's two import slots busy, and how cheaply?

Runs a load of ``--chunks`` files with ``--workers`` worker processes against
the sandbox at Marketo-like import speed (5 s per job + 2,000 rows/s), on a
private Redis and S3 endpoint, and prints:

- slot occupancy: the share of the 2 import slots busy while chunks were still
  waiting to start (target >= 95%);
- the time from the last job completing to the report being written;
- API calls per chunk: token + submit + polls (target <= 4; failure and warning
  file downloads and describe calls excluded).

``--time-scale N`` runs the whole job N times faster (sandbox speed and poll
intervals alike), which keeps every ratio the same; 1 is Marketo's own pace.

    .venv/bin/python bench/pipeline_bench.py --chunks 100 --workers 3 --time-scale 1
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from _harness import admin, bulk_pace, poll_env, stack


def occupancy(jobs: list[dict[str, Any]], slots: int = 2) -> float:
    """Busy slot-time over slot-time, from the first job queued to the last job started.

    After the last job starts no chunk is waiting, so an idle slot there is
    not a scheduling loss.
    """
    start = min(job["queued_at"] for job in jobs)
    end = max(job["started_at"] for job in jobs)
    if end <= start:
        return 1.0
    busy = sum(
        max(0.0, min(job["finished_at"], end) - max(job["started_at"], start)) for job in jobs
    )
    return busy / (slots * (end - start))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--rows-per-chunk", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args()

    from tests.pipeline_helpers import lead_rows, read_report

    scale = args.time_scale
    with stack(*bulk_pace(scale), prefix="mkto-pipeline-bench-") as services:
        sandbox = services.sandbox
        header = "email,firstName,lastName,leadScore\n"
        rows = args.chunks * args.rows_per_chunk
        body = header + "".join(lead_rows(rows))
        row_bytes = (len(body) - len(header)) / rows
        limit = int(len(header) + row_bytes * args.rows_per_chunk * 1.004)
        source = services.put("in/leads.csv", body.encode())
        pipeline = services.start_workers(
            args.workers, concurrency=2, CHUNK_BYTE_LIMIT=str(limit), **poll_env(scale)
        )
        began = time.time()
        load_id = pipeline.start_load(source=source, object="leads")
        load = pipeline.wait_until_finished(load_id, timeout=3600)
        elapsed = time.time() - began
        report = read_report(services.s3_client, load["report_uri"])
        jobs = [j for j in admin(sandbox.url, "/_sandbox/jobs") if j["finished_at"]]
        stats = admin(sandbox.url, "/_sandbox/stats")
        by_endpoint: dict[str, int] = stats["calls_by_endpoint"]
        # Token, submit and polls: everything but result files and describe.
        excluded = ("/failures.json", "/warnings.json", "/describe.json")
        calls = sum(n for endpoint, n in by_endpoint.items() if not endpoint.endswith(excluded))
        chunks = report["totals"]["chunks"]
        last_job_end = max(job["finished_at"] for job in jobs)
        result = {
            "chunks": chunks,
            "rows": report["totals"]["rows_processed"],
            "state": load["state"],
            "time_scale": scale,
            "elapsed_s": round(elapsed, 1),
            "slot_occupancy_while_waiting": round(occupancy(jobs), 4),
            "last_job_to_report_s": round(float(load["finished_at"]) - last_job_end, 2),
            "last_job_to_report_s_at_marketo_pace": round(
                (float(load["finished_at"]) - last_job_end) * scale, 2
            ),
            "api_calls_per_chunk": round(calls / chunks, 2),
            "calls_by_endpoint": by_endpoint,
            "tokens_issued": stats["tokens_issued"],
            "max_outstanding_jobs": stats["max_outstanding_jobs"],
            "max_importing_jobs": stats["max_importing_jobs"],
            "too_many_imports_sent": stats["too_many_imports_sent"],
        }
        print(json.dumps(result, indent=2))
        print(
            f"occupancy {result['slot_occupancy_while_waiting']:.1%} (target >= 95%), "
            f"API calls per chunk {result['api_calls_per_chunk']} (target <= 4), "
            f"last job -> report {result['last_job_to_report_s']} s"
        )


if __name__ == "__main__":
    main()
