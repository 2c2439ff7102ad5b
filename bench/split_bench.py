"""Splitting benchmark: GNU ``split -C``, a csv-module splitter and ours, on the same data.

    .venv/bin/python bench/split_bench.py [--size-mb 1024] [--limit 9900000] [--runs 3]
        [--dir DIR] [--skip-csv] [--skip-s3] [--line-index-cost]

Generates a CSV (quoted fields with commas, doubled quotes, newlines and
non-ASCII text) in a temporary directory, then measures, each in its own
process: ``split -C`` (line-based, not CSV-aware: the raw-speed reference),
a straightforward ``csv.reader``/``csv.writer`` splitter, and ours from the
local file and from a local S3 endpoint (moto, started here). Every contender
reads the same file with the page cache warm and writes its files to a
directory next to it (same filesystem); the local contenders run ``--runs``
times, interleaved, and the best and median of each are compared. Prints
MB/s, ratios, peak RSS and the average fill of our files. ``--line-index-cost`` also runs
ours without the line index (``SplitOptions.line_index``) and compares the two. Nothing is written
outside the temporary directory.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIRST = ["Anna", "Björn", "José", "Zoë", "Łukasz", "Chloé", "Søren", "Ana María", "美羽", "John"]
LAST = ["Müller", "O'Brien", "García", "Nguyễn", "Dvořák", "Smith", "Kowalski", "Иванов"]
COMPANY = ["Acme, Inc.", "Globex", 'Stark "Industries"', "Wayne Enterprises, LLC", "北京公司"]
NOTES = [
    'Met at the "Summit", wants a demo',
    "called twice\nleft voicemail",
    "",
    "VIP; see notes, page 2",
    "prefers email — no calls",
    "line one\r\nline two, with comma",
    "plain note",
    "",
]
HEADER = ["email", "firstName", "lastName", "company", "title", "city", "score", "notes", "date"]


def generate(path: Path, size_mb: int, seed: int = 7) -> int:
    """A CSV of at least ``size_mb`` MiB: a block of 200,000 distinct records, repeated."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for i in range(200_000):
        first = rng.choice(FIRST)
        writer.writerow([
            f"lead{i}@example{i % 97}.com", first, rng.choice(LAST), rng.choice(COMPANY),
            rng.choice(["Manager", "VP, Sales", "Engineer"]),
            rng.choice(["Berlin", "São Paulo", "Zürich", "Kraków"]),
            rng.randint(1, 100_000), rng.choice(NOTES), f"2024-0{rng.randint(1, 9)}-1{i % 10}",
        ])  # fmt: skip
    block = out.getvalue().encode("utf-8")
    target = size_mb * 1024 * 1024
    written = 0
    with open(path, "wb") as handle:
        handle.write((",".join(HEADER) + "\n").encode())
        while written < target:
            handle.write(block)
            written += len(block)
    return path.stat().st_size


# -- the contenders, each run in a child process (``--child NAME``) ------------------


def child_csv_module(source: str, dest: str, limit: int) -> dict[str, Any]:
    """The straightforward approach: parse every record, re-write it, count bytes."""
    files = 0
    with open(source, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        header_text = buffer.getvalue()
        size = len(header_text.encode())
        out = open(os.path.join(dest, f"c{files:05d}.csv"), "w", encoding="utf-8")  # noqa: SIM115
        out.write(header_text)
        for row in reader:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(row)
            text = buffer.getvalue()
            length = len(text.encode())
            if size + length > limit:
                out.close()
                files += 1
                out = open(os.path.join(dest, f"c{files:05d}.csv"), "w", encoding="utf-8")  # noqa: SIM115
                out.write(header_text)
                size = len(header_text.encode())
            out.write(text)
            size += length
        out.close()
    return {"files": files + 1}


def scanner_name() -> str:
    """Which scanner the splitter uses: the C one (and its instruction set) or Python."""
    from workers.split import records

    if records._c is None:
        return "Python (C scanner not built)"
    return f"C ({records._c.implementations()[0]})"


def child_ours(
    source: str, dest: str, limit: int, endpoint: str | None, line_index: bool = True
) -> dict[str, Any]:
    from workers.split.run import SplitOptions, SplitRun
    from workers.storage import Storage

    client = None
    if endpoint:
        import boto3

        client = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
    run = SplitRun(source, dest, storage=Storage(client=client),
                   options=SplitOptions(limit=limit, line_index=line_index))  # fmt: skip
    for _ in run:
        pass
    result = run.result
    return {
        "files": len(result.files),
        "rows": result.rows,
        "rejects": result.rejects,
        "fill": result.average_fill,
        "max_file": max(f.bytes for f in result.files),
        "scanner": scanner_name(),
    }


def run_child(args: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"child {args[0]} failed:\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["seconds"] = report.get("seconds", elapsed)
    return report


def child_main(argv: list[str]) -> None:
    import resource

    name, source, dest, limit = argv[0], argv[1], argv[2], int(argv[3])
    if name == "ours":  # imports are not part of the measurement
        import boto3  # noqa: F401

        import workers.split.run  # noqa: F401
    started = time.perf_counter()
    cpu = time.process_time()
    if name == "split":
        subprocess.run(["split", "-C", str(limit), source, os.path.join(dest, "s")], check=True)
        report: dict[str, Any] = {}
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    else:
        if name == "csv":
            report = child_csv_module(source, dest, limit)
        elif name == "ours-noindex":
            report = child_ours(source, dest, limit, None, line_index=False)
        else:
            report = child_ours(source, dest, limit, argv[4] if len(argv) > 4 else None)
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report["seconds"] = time.perf_counter() - started
    report["cpu_seconds"] = time.process_time() - cpu  # every thread of ours (not split's)
    report["peak_rss_mb"] = peak_kb / 1024
    print(json.dumps(report))


def _warm(path: Path) -> None:
    """Read the file once, so every contender starts with it in the page cache."""
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(8 * 1024 * 1024)
        while handle.readinto(buffer):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--limit", type=int, default=9_900_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each contender, interleaved")
    parser.add_argument(
        "--dir", default=None, help="where the input and all output go (default: TMPDIR)"
    )
    parser.add_argument("--skip-csv", action="store_true", help="skip the slow csv-module run")
    parser.add_argument("--skip-s3", action="store_true")
    parser.add_argument("--line-index-cost", action="store_true",
                        help="also run ours without the line index: what it costs")  # fmt: skip
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mkto-split-bench-", dir=args.dir))
    try:
        source = work / "data.csv"
        size = generate(source, args.size_mb)
        mb = size / 1e6
        print(f"input: {size:,} bytes ({mb:,.0f} MB) in {work}, limit {args.limit:,} bytes")
        print(f"each contender writes its files to {work} (same filesystem), "
              f"{args.runs} runs interleaved, page cache warm")  # fmt: skip
        names = ["split", "ours"] + ([] if args.skip_csv else ["csv"])
        names += ["ours-noindex"] if args.line_index_cost else []
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}

        def measure(name: str, *extra: str) -> dict[str, Any]:
            dest = work / f"out-{name}"
            dest.mkdir()
            os.sync()  # no writeback of an earlier run's files left pending
            _warm(source)
            report = run_child([name, str(source), str(dest), str(args.limit), *extra])
            shutil.rmtree(dest)
            return report

        for number in range(args.runs):
            for name in names:
                report = measure(name)
                runs[name].append(report)
                print(f"  run {number + 1} {name:12s} {mb / report['seconds']:7.0f} MB/s "
                      f"({report['seconds']:.2f} s)", flush=True)  # fmt: skip
        if not args.skip_s3:
            from tests.services import start_s3

            s3 = start_s3(work)
            try:
                import boto3

                client = boto3.client(
                    "s3", endpoint_url=s3.url, region_name="us-east-1",
                    aws_access_key_id="testing", aws_secret_access_key="testing",
                )  # fmt: skip
                client.create_bucket(Bucket="bench")
                client.upload_file(str(source), "bench", "in/data.csv")
                dest = "s3://bench/out"
                runs["ours-s3"] = [
                    run_child(["ours", "s3://bench/in/data.csv", dest, str(args.limit), s3.url])
                ]
            finally:
                s3.stop()

        print(f"{'':14s}{'best MB/s':>10s}{'median':>9s}{'runs (MB/s)':>32s}{'peak RSS MB':>13s}")
        best: dict[str, float] = {}
        median: dict[str, float] = {}
        for name, reports in runs.items():
            rates = sorted(mb / r["seconds"] for r in reports)
            best[name] = rates[-1]
            median[name] = statistics.median(rates)
            label = {"split": "split -C", "csv": "csv module", "ours": "ours (local)",
                     "ours-s3": "ours (S3)", "ours-noindex": "ours, no index"}[name]  # fmt: skip
            each = ", ".join(f"{mb / r['seconds']:.0f}" for r in reports)
            rss = max(r["peak_rss_mb"] for r in reports)
            print(f"{label:14s}{best[name]:10.0f}{median[name]:9.0f} {each:>31s}{rss:13.0f}")
        print(f"ours / split -C: best {best['ours'] / best['split']:.2f}x, "
              f"median {median['ours'] / median['split']:.2f}x (target >= 0.75x)")  # fmt: skip
        if "ours-noindex" in runs:
            cpu = {n: statistics.median(r["cpu_seconds"] for r in runs[n])
                   for n in ("ours", "ours-noindex")}  # fmt: skip
            bare = "ours-noindex"
            print(f"ours / ours without the line index: best {best['ours'] / best[bare]:.2f}x, "
                  f"median {median['ours'] / median[bare]:.2f}x; CPU median "
                  f"{cpu['ours']:.2f} s / {cpu[bare]:.2f} s")  # fmt: skip
        if "csv" in runs:
            print(f"ours / csv module: best {best['ours'] / best['csv']:.1f}x, "
                  f"median {median['ours'] / median['csv']:.1f}x (target >= 10x)")  # fmt: skip
        ours = runs["ours"][-1]
        print(
            f"our files: {ours['files']}, rows {ours['rows']:,}, rejects {ours['rejects']}, "
            f"largest {ours['max_file']:,} bytes, average fill {ours['fill']:.2%} (target >= 97%)"
        )
        print(f"scanner: {ours['scanner']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        main()
