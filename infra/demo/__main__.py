"""``make demo``: the main job end to end on one machine, on embedded defaults.

Starts a private Redis, an S3 endpoint, the Marketo sandbox at Marketo's own
import speed, two workers, beat and Flower; writes a lead export to S3 as an
ETL would; enqueues the load with ``send_task`` by name, as an ETL would;
follows it on a progress bar; prints the report and where the failure and
warning files are; then keeps Flower open until Ctrl-C and stops everything
it started.

    python -m infra.demo [--leads 300000] [--parts 4] [--fast] [--s3 seaweedfs|moto]
                         [--no-linger] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from collections import Counter
from datetime import date
from types import FrameType
from typing import Any

from infra.demo.dataset import Planted, generate_parts
from infra.demo.stack import FLOWER_USER, S3_SERVERS, LocalStack
from infra.local_services import session_tmpdir
from workers.storage import Storage

SOURCE_BUCKET = "etl-out"
STAGING_BUCKET = "mkto-bulk"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _storage(stack: LocalStack) -> Storage:
    """The project's own S3 layer, on the demo's endpoint."""
    import boto3

    client = boto3.client(
        "s3", endpoint_url=stack.s3_url, region_name="us-east-1",
        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip
    return Storage(client=client)


def write_dataset(stack: LocalStack, leads: int, parts: int) -> tuple[str, Planted]:
    """Write the export under ``s3://etl-out/leads/<today>/`` and return its prefix."""
    storage = _storage(stack)
    for bucket in (SOURCE_BUCKET, STAGING_BUCKET):
        storage.client.create_bucket(Bucket=bucket)
    source = f"s3://{SOURCE_BUCKET}/leads/{date.today().isoformat()}/"
    planted = Planted()
    for name, body in generate_parts(leads, parts, planted):
        storage.put(source + name, [body])
    return source, planted


def enqueue(stack: LocalStack, source: str) -> str:
    """What an ETL does: a bare Celery app on the broker, the task sent by name."""
    from celery import Celery

    etl = Celery(broker=stack.env["REDIS_URL"], backend=stack.env["REDIS_URL"])
    result = etl.send_task(
        "mkto_bulk.start_load",
        kwargs={"source": source, "object": "leads", "lookupField": "email",
                "idempotencyKey": f"demo-leads:{source}"},
    )  # fmt: skip
    return str(result.get(timeout=60)["load_id"])


def follow(stack: LocalStack, load_id: str) -> Any:
    from workers.api import wait_for_load
    from workers.cli.load import Progress

    progress = Progress()
    try:
        return wait_for_load(
            load_id, interval=0.5, on_progress=progress, redis_url=stack.env["REDIS_URL"]
        )
    finally:
        progress.close()


def read_report(stack: LocalStack, uri: str) -> dict[str, Any]:
    return dict(json.loads(_storage(stack).read_bytes(uri)))


def report_lines(report: dict[str, Any], planted: Planted) -> tuple[list[str], bool]:
    """The report in a few lines, and whether its counts add up (and match what was planted)."""
    t = report["totals"]
    accounted = (
        t["rows_read"] == t["rows_submitted"] + t["rows_rejected"] + t["rows_not_submitted"]
        and t["rows_submitted"] == t["rows_processed"] + t["rows_failed"] + t["rows_in_failed_jobs"]
    )
    expected = (
        t["rows_read"] == planted.rows
        and t["rows_rejected"] == len(planted.rejected)
        and t["rows_failed"] == planted.marketo_failures
        and t["rows_warned"] == planted.marketo_warnings
    )
    check = "yes" if accounted else "NO"
    lines = [
        f"rows read {t['rows_read']:,} = submitted {t['rows_submitted']:,} + rejected before "
        f"submission {t['rows_rejected']:,} (+ never sent {t['rows_not_submitted']:,}): {check}",
        f"rows submitted {t['rows_submitted']:,} = processed {t['rows_processed']:,} + failed by "
        f"Marketo {t['rows_failed']:,} + in failed jobs {t['rows_in_failed_jobs']:,}: {check}",
        f"rows with Marketo warnings: {t['rows_warned']:,}",
        f"planted in the dataset: {planted.rows:,} rows, {len(planted.rejected)} bad records, "
        f"{planted.marketo_failures} rows Marketo fails, {planted.marketo_warnings} it warns "
        f"about: {'all found' if expected else 'MISMATCH'}",
        f"chunks {t['chunks']} ({t['chunks_done']} done, {t['chunks_failed']} failed), "
        f"jobs submitted {t['jobs_submitted']}, 1016s {t['too_many_imports']}, "
        f"API calls {t['api_calls']}",
    ]
    if report.get("rejects_file"):
        lines.append(f"rejected records: {report['rejects_file']}")
    for chunk in report["chunks"]:
        for kind in ("failures_file", "warnings_file"):
            if chunk.get(kind):
                lines.append(f"chunk {chunk['chunk']} {kind.split('_')[0]}: {chunk[kind]}")
    return lines, accounted and expected


def flower_lines(stack: LocalStack) -> tuple[list[str], bool]:
    """What Flower saw of the load, by task name (from its API, behind basic auth)."""
    tasks = stack.flower("/api/tasks").json()
    seen = Counter(str(task.get("name")) for task in tasks.values())
    names = ", ".join(f"{name} {count}" for name, count in sorted(seen.items()))
    return [f"Flower saw {len(tasks)} tasks: {names}"], "mkto_bulk.submit_chunk" in seen


def run(args: argparse.Namespace, stack: LocalStack) -> int:
    say = print
    say(f"starting Redis, S3 ({stack.s3}), the Marketo sandbox, 2 workers, beat, Flower "
        f"(logs: {stack.workdir})")  # fmt: skip
    stack.start()
    say(f"Flower: {stack.flower_url}  user {FLOWER_USER}  password {stack.flower_password}")
    started = time.monotonic()
    source, planted = write_dataset(stack, args.leads, args.parts)
    say(f"wrote {planted.rows:,} leads in {args.parts} gzipped parts to {source}")
    load_id = enqueue(stack, source)
    say(f"enqueued mkto_bulk.start_load by name: load {load_id}")
    status = follow(stack, load_id)
    say(f"load {load_id} {status.state} in {time.monotonic() - started:.0f} s")
    if status.error:
        say(f"error: {status.error}")
    report = read_report(stack, status.report_uri)
    lines, counts_ok = report_lines(report, planted)
    lines.append(f"report: {status.report_uri}")
    seen, flower_ok = flower_lines(stack)
    for line in lines + seen:
        say("  " + line)
    return 0 if status.ok and counts_ok and flower_ok else 1


def linger(stack: LocalStack) -> None:
    """Leave Flower up for a look until Ctrl-C."""
    print(f"Flower stays open at {stack.flower_url} (user {FLOWER_USER}, password "
          f"{stack.flower_password}); press Ctrl-C to stop everything", flush=True)  # fmt: skip
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=300_000, help="rows in the export")
    parser.add_argument("--parts", type=int, default=4, help="gzipped parts under the prefix")
    parser.add_argument(
        "--fast", action="store_true", help="the sandbox imports at once (default: Marketo's pace)"
    )
    parser.add_argument(
        "--s3", choices=S3_SERVERS, default=S3_SERVERS[0],
        help="SeaweedFS (checks signatures, as AWS does) or moto (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--no-linger", dest="linger", action="store_false", help="stop as soon as the load ends"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = session_tmpdir("mkto-bulk-demo-")
    stack = LocalStack(workdir, realistic=not args.fast, s3=args.s3)
    code = 1
    try:
        code = run(args, stack)
        if args.linger:
            linger(stack)
    except KeyboardInterrupt:
        code = 130
    except Exception as error:  # a demo that breaks says why, and leaves its logs behind
        print(f"demo failed: {type(error).__name__}: {error}", file=sys.stderr)
        args.keep = True
    finally:
        print("stopping everything the demo started", flush=True)
        stack.stop()
        if args.keep:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
