"""Finishing an import job: apply its rows to the store and write Marketo's result files.

Counts in the status answer come from the same lists that the failure and
warning files are written from, so they always agree.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from infra.sandbox.queue import ImportJob
from infra.sandbox.records import Store
from infra.sandbox.rows import DELIMITERS

FAILURE_COLUMN = "Import Failure Reason"
WARNING_COLUMN = "Import Warning Reason"


def finish_job(job: ImportJob, store: Store, now: float) -> None:
    """Upsert every row that passed the static rules, in file order; record the outcome."""
    if job.fail_message or job.parsed is None or job.checked is None:
        job.final_status = "Failed"
        job.message = f"Import failed: {job.fail_message or 'internal error'}"
        return
    target = job.target
    width = len(job.header)
    index = None
    if target.kind == "leads" and target.lookup_field not in ("id", "email"):
        index = store.lead_index(target.lookup_field)
    pairs = list(zip(job.parsed.rows, job.checked, strict=True))
    if job.skip_rows:
        pairs = pairs[: -job.skip_rows]
    for row, checked in pairs:
        reason = checked.reason
        if not reason:
            if target.kind == "leads":
                reason = store.upsert_lead(checked.values, target, job.finish_at, index)[1]
            elif target.kind == "customobject":
                reason = store.upsert_custom(target.object_name, checked.values, job.finish_at)
            else:
                reason = store.upsert_member(checked.values, target, job.finish_at)
        padded = row + [""] * (width - len(row))
        if reason:
            job.failure_rows.append([*padded, reason])
            continue
        job.processed += 1
        if checked.warnings:
            job.warning_rows.append([*padded, "; ".join(checked.warnings)])
    job.final_status = "Complete"
    job.message = completion_message(job.processed, len(job.failure_rows), len(job.warning_rows))


def completion_message(processed: int, failed: int, warnings: int) -> str:
    """Marketo's wording, e.g. ``Import succeeded, 3 records imported (3 members)``."""
    head = "Import completed with errors" if failed else "Import succeeded"
    text = f"{head}, {processed} records imported ({processed} members)"
    if failed:
        text += f", {failed} failed"
    if warnings:
        text += f", {warnings} warning{'s' if warnings != 1 else ''}."
    return text


def status_result(job: ImportJob, now: float) -> dict[str, Any]:
    """The status answer in the shape of the job's object type (see the bulk import docs)."""
    status = job.status(now)
    done = bool(job.final_status)
    failed = len(job.failure_rows)
    warned = len(job.warning_rows)
    result: dict[str, Any]
    if job.target.kind == "customobject":
        started = min(now, job.finish_at) - job.start_at if status != "Queued" else 0.0
        result = {
            "batchId": job.batch_id,
            "operation": "import",
            "status": status,
            "objectApiName": job.target.object_name,
            "numOfObjectsProcessed": job.processed,
            "numOfRowsFailed": failed,
            "numOfRowsWithWarning": warned,
            "importTime": f"{max(0, math.ceil(started))} second(s)",
        }
    else:
        result = {
            "batchId": job.batch_id,
            "importId": str(job.batch_id),
            "status": status,
            "numOfLeadsProcessed": job.processed,
            "numOfRowsFailed": failed,
            "numOfRowsWithWarning": warned,
        }
    if done:
        result["message"] = job.message
    return result


def render_file(job: ImportJob, kind: str) -> bytes | None:
    """The failures or warnings file in the job's format; None when there is none (404)."""
    rows = job.failure_rows if kind == "failures" else job.warning_rows
    if not job.final_status or not rows:
        return None
    column = FAILURE_COLUMN if kind == "failures" else WARNING_COLUMN
    out = io.StringIO()
    writer = csv.writer(out, delimiter=DELIMITERS[job.fmt], lineterminator="\n")
    writer.writerow([*job.header, column])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")
