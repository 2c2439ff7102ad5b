"""Results-file benchmark: how fast finish writes a load's results file, and its memory.

    .venv/bin/python bench/results_bench.py [--rows 1000000] [--failed-every 1000] [--dir DIR]

Splits a generated lead file (the split benchmark's rows: quoted commas, quotes,
newlines, non-ASCII) into 10 MB chunks on local disk, writes a failure file for
each chunk as Marketo would (every ``--failed-every``-th row, its cells and a
reason), records the load and its chunks as the ledger would hold them once
collected, and times ``write_results`` (what finish runs), reading and writing
local files. Prints rows per second, the file's size per row and the peak RSS
of the process that wrote it (the load's files are made in another): it does
not grow with the rows, one chunk is held at a time.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from split_bench import generate  # noqa: E402  (the split benchmark's rows)

from workers.results.build import write_results  # noqa: E402
from workers.results.matching import parse  # noqa: E402
from workers.split.header_check import TargetFields  # noqa: E402
from workers.split.run import SplitOptions, SplitRun  # noqa: E402
from workers.state.records import parse_chunk, parse_load  # noqa: E402
from workers.storage import Storage  # noqa: E402

REASON = "Invalid data type in field Lead Score"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--failed-every", type=int, default=1000)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mkto-results-bench-", dir=args.dir))
    try:
        # The load's files, made in a process of their own (its memory is not measured).
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            raw_chunks, rows = pool.submit(_make_load, tmp, args.rows, args.failed_every).result()
        staging = tmp / "loads" / "L"
        chunks = [parse_chunk("L", raw) for raw in raw_chunks]
        failed_total = sum(c.failed for c in chunks)
        load = parse_load("L", {
            "state": "loading", "params": json.dumps({"source": str(tmp), "object": "leads"}),
            "created_at": "0", "updated_at": "0", "staging": str(staging),
            "rows_read": str(rows), "rows_submitted": str(rows),
        })  # fmt: skip
        started = time.perf_counter()
        summary = write_results(Storage(), load, chunks)
        seconds = time.perf_counter() - started
        size = (staging / "results" / "rows.csv.gz").stat().st_size
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"rows {summary.rows:,} in {len(chunks)} chunks; {failed_total:,} failed "
            f"(matched {summary.outcomes['failed']:,}, problems {len(summary.problems)})"
        )
        print(
            f"results file written in {seconds:.2f} s: {summary.rows / seconds:,.0f} rows/s; "
            f"{size:,} bytes ({size / summary.rows:.1f} bytes a row); peak RSS {peak:.0f} MB"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _make_load(tmp: Path, rows: int, every: int) -> tuple[list[dict[str, str]], int]:
    """Split the generated source; a failure file per chunk; the chunks' ledger hashes."""
    source = tmp / "in.csv"
    generate(source, max(1, rows * 112 // (1024 * 1024)))
    staging = tmp / "loads" / "L"
    fields = ["email", "firstName", "lastName", "company", "title", "city", "score", "notes",
              "date"]  # fmt: skip
    target = TargetFields("leads", fields, ["email"])
    run = SplitRun(str(source), str(staging / "chunks"), storage=Storage(),
                   options=SplitOptions(target=target))  # fmt: skip
    chunks = []
    for info in run:
        failures, failed = _failures(Path(info.uri), every)
        uri = staging / "failures" / f"chunk-{info.index:05d}.csv"
        uri.parent.mkdir(parents=True, exist_ok=True)
        uri.write_bytes(failures)
        chunks.append({
            "index": str(info.index), "state": "done", "created_at": "0", "updated_at": "0",
            "uri": info.uri, "rows": str(info.rows), "processed": str(info.rows - failed),
            "failed": str(failed), "failures_uri": str(uri), "batch_id": "1",
        })  # fmt: skip
    return chunks, run.result.rows


def _failures(chunk: Path, every: int) -> tuple[bytes, int]:
    """Marketo's failure file for a chunk: every ``every``-th record, its cells and a reason."""
    records = parse(chunk.read_bytes(), ",")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*records[0], "Import Failure Reason"])
    failed = 0
    for record in records[1::every]:
        writer.writerow([*record, REASON])
        failed += 1
    return out.getvalue().encode(), failed


if __name__ == "__main__":
    main()
