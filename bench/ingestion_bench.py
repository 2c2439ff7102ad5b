"""Ingestion benchmark: the same lead dataset by bulk import and by the Data Ingestion API.

Builds a ``--rows`` lead file (default 300,000) with planted bad rows (a type
error, a missing email, broken quoting), then loads it twice, each time on a
fresh private stack (Redis, S3 endpoint, sandbox, workers):

- by bulk import, the sandbox at Marketo's pace (``--realistic``: 5 s per job +
  2,000 rows/s, polls every 5-30 s);
- by the Data Ingestion API (``"api": "ingestion"``), the sandbox applying each
  accepted request ``--apply-delay`` seconds after its 202 (Marketo documents
  no figure; it calls the API low latency), never drained by hand.

For each run it measures the time from ``start_load`` until the sandbox's store
holds every good row (polling the admin API), the time until the load's report
is written, and the Marketo calls used; then prints a table and the ratio
bulk time / ingestion time (target >= 10x).

``--time-scale N`` runs both N times faster (bulk speed, poll intervals and
apply delay alike), which keeps Marketo's side of every ratio the same; our
own work (reading, converting, sending) is not scaled, so a large N
understates the ingestion run's advantage. The Data Ingestion API's requests
per second (Marketo's 5,000, our share 2,500) stay per real second: a run
sends a few hundred requests, far below either.
``--in-flight 4 8`` runs the ingestion load once per ``INGESTION_CHUNKS_IN_FLIGHT``.

    .venv/bin/python bench/ingestion_bench.py --time-scale 1
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _harness import Stack, bulk_pace, poll_env, stack

# Not documented by Marketo ("low latency ... minimal delay"): a few seconds per request.
REALISTIC_APPLY_DELAY_S = 5.0
TARGET_RATIO = 10.0
HEADER = (
    "email,firstName,lastName,company,city,country,phone,leadScore,annualRevenue,"
    "unsubscribed,dateOfBirth\n"
)
BAD_KINDS = ("type", "no_email", "quoting")


def dataset(rows: int, bad: int) -> tuple[bytes, int]:
    """The file and how many of its rows are good (unique emails, so one record each).

    ``bad`` rows are planted evenly, in turn: a ``leadScore`` that is not an
    integer (fails its row alone), no email (no lookup value: Marketo fails it),
    and a stray quote mid-field (the split rejects it).
    """
    step = max(rows // bad, 1) if bad else 0
    lines = [HEADER]
    planted = 0
    for n in range(rows):
        kind = BAD_KINDS[planted % len(BAD_KINDS)] if step and n % step == step // 2 else ""
        email = "" if kind == "no_email" else f"lead{n}@example.com"
        first = f'Fir"st{n}' if kind == "quoting" else f"First{n}"
        score = "high" if kind == "type" else str(n % 100)
        lines.append(
            f'{email},{first},"Last, {n}",Company {n % 997},City {n % 211},US,'
            f"+1-555-{n % 10_000:04d},{score},{(n % 500) * 1000}.50,{'true' if n % 7 else 'false'},"
            f"19{50 + n % 50}-0{1 + n % 9}-1{n % 10}\n"
        )
        planted += bool(kind)
    return "".join(lines).encode(), rows - planted


@dataclass
class Run:
    """One load's figures; times in seconds from ``start_load``, at the benchmark's scale."""

    name: str
    state: str = ""
    first_row_s: float | None = None
    all_good_rows_s: float | None = None
    report_s: float | None = None
    last_request_s: float | None = None
    stored: int = 0
    chunks: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    cpu_s: dict[str, float] = field(default_factory=dict)  # by process, during the run
    totals: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


def kind_of(endpoint: str) -> str:
    """A Marketo endpoint's part in a load: token, describe, submit, poll, result file, ..."""
    if "/identity/" in endpoint:
        return "token"
    if "/subscriptions/" in endpoint:
        return "ingestion requests"
    if "describe" in endpoint:
        return "describe"
    if endpoint.endswith(("/failures.json", "/warnings.json")):
        return "result files"
    if endpoint.startswith("POST /bulk/"):
        return "bulk submits"
    if endpoint.startswith("GET /bulk/"):
        return "bulk polls"
    return "other"


def run_load(services: Stack, name: str, source: str, good: int, timeout: float,
             **payload: Any) -> Run:  # fmt: skip
    """Start the load, then watch the store and the ledger until both are done."""
    pipeline = services.pipeline
    assert pipeline is not None
    run = Run(name)
    baseline = int(services.admin("/_sandbox/records/leads")["count"])
    cpu_before = services.cpu()
    began = time.time()
    load_id = pipeline.start_load(source=source, object="leads", **payload)
    deadline = time.monotonic() + timeout
    load: dict[str, str] = {}
    while time.monotonic() < deadline:
        stored = int(services.admin("/_sandbox/records/leads")["count"]) - baseline
        now = time.time() - began
        if stored and run.first_row_s is None:
            run.first_row_s = now
        if stored >= good and run.all_good_rows_s is None:
            run.all_good_rows_s = now
        load = pipeline.load(load_id)
        if load.get("finished_at") and run.report_s is None:
            run.report_s = float(load["finished_at"]) - began
        run.stored = stored
        if run.all_good_rows_s is not None and run.report_s is not None:
            break
        time.sleep(0.1)
    run.state = load.get("state", "?")
    run.cpu_s = {k: round(v - cpu_before[k], 1) for k, v in services.cpu().items()}
    stats = services.admin("/_sandbox/stats")
    for endpoint, count in stats["calls_by_endpoint"].items():
        run.calls[kind_of(endpoint)] += int(count)
    run.chunks = len(pipeline.chunks(load_id))
    if load.get("report_uri"):
        from tests.pipeline_helpers import read_report

        report = read_report(services.s3_client, load["report_uri"])
        run.totals = {
            k: report["totals"][k]
            for k in ("rows_read", "rows_processed", "rows_failed", "rows_rejected", "chunks")
        }
    if payload.get("api") == "ingestion":
        run.detail = ingestion_detail(services, began)
        run.last_request_s = run.detail.get("last_accepted_s")
    return run


def ingestion_detail(services: Stack, began: float) -> dict[str, Any]:
    """What the sandbox saw: requests per chunk, how fast they came, when they were applied."""
    answered = services.admin("/_sandbox/ingestion/requests")["requests"]
    accepted = [r for r in answered if r["http_status"] == 202]
    stats = services.admin("/_sandbox/ingestion/stats")
    by_chunk: dict[str, list[float]] = {}
    for request in accepted:
        by_chunk.setdefault(str(request["correlation_id"]), []).append(request["received_at"])
    spans = [max(times) - min(times) for times in by_chunk.values()]
    per_request = [s / (len(t) - 1) for s, t in zip(spans, by_chunk.values(), strict=True)
                   if len(t) > 1]  # fmt: skip
    first = min((r["received_at"] for r in accepted), default=began)
    last = max((r["received_at"] for r in accepted), default=began)
    applied = [r["applied_at"] for r in accepted if r["applied_at"] is not None]
    return {
        "requests": stats["requests"],
        "objects_accepted": stats["objects_accepted"],
        "objects_applied": stats["objects_applied"],
        "objects_failed": stats["objects_failed"],
        "first_accepted_s": round(first - began, 2),
        "last_accepted_s": round(last - began, 2),
        "requests_per_s": round(len(accepted) / (last - first), 1) if last > first else None,
        "s_per_request_in_a_chunk": round(sum(per_request) / len(per_request), 4)
        if per_request
        else None,
        "last_applied_s": round(max(applied) - began, 2) if applied else None,
    }


def bench_bulk(args: argparse.Namespace, data: bytes, good: int) -> Run:
    scale = args.time_scale
    with stack(
        *bulk_pace(scale), prefix="mkto-ingestion-bench-bulk-", work=args.work / "bulk"
    ) as services:
        source = services.put("in/leads.csv", data)
        services.start_workers(args.workers, args.concurrency, **poll_env(scale))
        return run_load(services, "bulk", source, good, args.timeout)


def bench_ingestion(args: argparse.Namespace, data: bytes, good: int, in_flight: int) -> Run:
    """The ingestion load; ``apply_lag_s`` in its detail is how long after the last request
    was due the store was full: the sandbox applying objects, not Marketo's delay."""
    scale = args.time_scale
    work: Path = args.work / f"ingestion-{in_flight}"
    sandbox_args = ["--ingestion-apply-delay", str(args.apply_delay / scale)]
    with stack(*sandbox_args, work=work) as services:
        source = services.put("in/leads.csv", data)
        services.start_workers(
            args.workers, args.concurrency, **poll_env(scale),
            INGESTION_CHUNKS_IN_FLIGHT=str(in_flight),
        )  # fmt: skip
        run = run_load(services, f"ingestion, {in_flight} in flight", source, good,
                       args.timeout, api="ingestion")  # fmt: skip
    if run.last_request_s is not None and run.all_good_rows_s is not None:
        due = run.last_request_s + args.apply_delay / scale
        run.detail["apply_lag_s"] = round(run.all_good_rows_s - due, 2)
    return run


def table(runs: list[Run], scale: float) -> str:
    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    head = ["run", "chunks", "last request accepted s", "report s", "all good rows in store s",
            "API calls", "calls by kind", "CPU s: workers / sandbox"]  # fmt: skip
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for run in runs:
        calls = ", ".join(f"{k} {v}" for k, v in sorted(run.calls.items()))
        lines.append(" | ".join([
            f"{run.name} ({run.state})", str(run.chunks), num(run.last_request_s),
            num(run.report_s), num(run.all_good_rows_s), str(sum(run.calls.values())), calls,
            f"{run.cpu_s.get('workers', 0):.1f} / {run.cpu_s.get('sandbox', 0):.1f}",
        ]))  # fmt: skip
    if scale != 1:
        lines.append(f"(times at --time-scale {scale:g}: Marketo's side runs {scale:g}x faster)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--bad-rows", type=int, default=300, help="planted bad rows")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument(
        "--apply-delay",
        type=float,
        default=REALISTIC_APPLY_DELAY_S,
        help="seconds (Marketo's pace) before an accepted request is applied",
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        nargs="+",
        default=[4],
        help="INGESTION_CHUNKS_IN_FLIGHT; one ingestion run per value",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument(
        "--work", type=Path, default=None, help="where logs go (default: a tmp dir)"
    )
    args = parser.parse_args()
    if args.work is None:
        import tempfile

        args.work = Path(tempfile.mkdtemp(prefix="mkto-ingestion-bench-"))
    data, good = dataset(args.rows, args.bad_rows)
    print(f"dataset: {args.rows:,} rows, {len(data) / 1e6:.1f} MB, {good:,} good; "
          f"logs in {args.work}", flush=True)  # fmt: skip
    runs = [bench_bulk(args, data, good)]
    print(json.dumps(runs[-1].__dict__, indent=1, default=str), flush=True)
    for in_flight in args.in_flight:
        runs.append(bench_ingestion(args, data, good, in_flight))
        print(json.dumps(runs[-1].__dict__, indent=1, default=str), flush=True)
    results = args.work / "results.json"
    results.write_text(json.dumps([run.__dict__ for run in runs], indent=1, default=str))
    print(f"\nfigures of each run: {results}")
    print(table(runs, args.time_scale))
    bulk = runs[0].all_good_rows_s
    for run in runs[1:]:
        if bulk is None or run.all_good_rows_s is None:
            print(f"{run.name}: no ratio (a run did not store every good row)")
            continue
        ratio = bulk / run.all_good_rows_s
        verdict = "meets" if ratio >= TARGET_RATIO else "misses"
        print(f"bulk / {run.name}: {ratio:.1f}x ({verdict} the target of >= {TARGET_RATIO:g}x); "
              f"the store was full {run.detail.get('apply_lag_s')} s after the last request "
              f"was due (the sandbox applying objects)")  # fmt: skip


if __name__ == "__main__":
    main()
