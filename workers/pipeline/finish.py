"""Closing a load: its final state and its report.

The report (JSON in S3, next to the load) is the durable record of the
ledger: per chunk its batch id, sizes, Marketo's counts and links to the
failure and warning files, and totals that account for every input row.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from workers.marketo.metrics import Metrics
from workers.pipeline import quota_wait
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.runtime import Runtime
from workers.state import accounting
from workers.state.ledger import ACTIVE_LOADS, TERMINAL_CHUNK_STATES, ChunkState, LoadState

logger = logging.getLogger(__name__)


def _int(record: dict[str, str], field: str) -> int:
    return int(record.get(field) or 0)


def build_report(
    load_id: str, load: dict[str, str], chunks: list[dict[str, str]]
) -> dict[str, Any]:
    """The load report: everything an operator needs to trust (or chase) the load."""
    per_chunk = [
        {
            "chunk": int(c["index"]),
            "state": c["state"],
            "batch_id": c.get("batch_id") or None,
            "bytes": _int(c, "bytes"),
            "rows": _int(c, "rows"),
            "processed": _int(c, "processed"),
            "failed": _int(c, "failed"),
            "warnings": _int(c, "warnings"),
            "marketo_status": c.get("status") or None,
            "message": c.get("message") or None,
            "attempts": _int(c, "attempts"),
            "submissions": _int(c, "submissions"),
            "unexpected_errors": _int(c, "unexpected_errors"),
            "last_error": c.get("last_error") or None,
            "source_lines": [
                c.get("first_source"),
                _int(c, "first_line"),
                c.get("last_source"),
                _int(c, "last_line"),
            ],
            "submitted_at": float(c["submitted_at"]) if c.get("submitted_at") else None,
            "finished_at": float(c["finished_at"]) if c.get("finished_at") else None,
            "file": c.get("uri"),
            "failures_file": c.get("failures_uri"),
            "warnings_file": c.get("warnings_uri"),
        }
        for c in chunks
    ]
    totals = {
        name: _int(load, name)
        for name in (
            "rows_read",
            "rows_rejected",
            "rows_skipped",
            "rows_submitted",
            "rows_processed",
            "rows_failed",
            "rows_warned",
            "rows_in_failed_jobs",
            "rows_not_submitted",
            "chunks_done",
            "chunks_failed",
            "jobs_submitted",
            "jobs_retried",
            "too_many_imports",
            "possible_double_submissions",
            "quota_waits",
            "api_calls",
        )
    }
    totals["chunks"] = len(chunks)
    parameters = json.loads(load["params"])
    return {
        "load_id": load_id,
        "source": parameters.get("source"),
        "parameters": parameters,
        "error": load.get("error") or None,
        "counts_ok": accounting.mismatch(load, chunks) is None,
        "last_error": load.get("last_error") or None,
        "last_wait": load.get("last_wait") or None,
        "rejects_file": load.get("rejects_uri") or None,
        "created_at": float(load["created_at"]),
        "totals": totals,
        "chunks": per_chunk,
    }


def final_state(load: dict[str, str], chunks: list[dict[str, str]]) -> LoadState:
    """Failed (the source, or every job); else counts_mismatch when the counts do not add up."""
    if load.get("error") or (chunks and all(c["state"] == ChunkState.FAILED for c in chunks)):
        return LoadState.FAILED
    if not chunks and not _int(load, "rows_read"):
        return LoadState.FAILED
    if accounting.mismatch(load, chunks):
        return LoadState.COUNTS_MISMATCH
    troubled = any(c["state"] == ChunkState.FAILED for c in chunks)
    if troubled or _int(load, "rows_failed") or _int(load, "rows_rejected"):
        return LoadState.SUCCEEDED_WITH_ROW_ERRORS
    return LoadState.SUCCEEDED


def finish(rt: Runtime, dispatch: Dispatcher, load_id: str) -> str:
    """Close the load once it is split and every chunk is terminal; idempotent."""
    load, chunks = rt.ledger.snapshot(load_id)
    if load["state"] != LoadState.LOADING:
        return "not-loading"
    if len(chunks) < int(load["chunks_total"]) or any(
        c["state"] not in TERMINAL_CHUNK_STATES for c in chunks
    ):
        return "in-progress"
    state = final_state(load, chunks)
    fields: dict[str, object] = {}
    if state == LoadState.COUNTS_MISMATCH:
        fields["error"] = load["error"] = accounting.mismatch(load, chunks) or ""
    report = build_report(load_id, load, chunks)
    report["state"] = state.value
    report["finished_at"] = time.time()
    report_uri = f"{load['staging']}/report.json"
    rt.storage.put(report_uri, [json.dumps(report, indent=2).encode()])
    fields.update(report_uri=report_uri, finished_at=report["finished_at"])
    moved = rt.ledger.update_load(load_id, [LoadState.LOADING], state, fields)
    if not moved.applied:
        return "already-finished"
    rt.redis.srem(ACTIVE_LOADS, load_id)
    rt.ledger.clear_load_fields(load_id, *quota_wait.WAIT_FIELDS)
    if state == LoadState.COUNTS_MISMATCH:
        Metrics(rt.redis, rt.settings.instance).incr(accounting.COUNTS_MISMATCH_METRIC)
        logger.error("load_id=%s ended %s: %s", load_id, state.value, fields["error"])
    logger.info("load finished load_id=%s state=%s report=%s", load_id, state.value, report_uri)
    params = json.loads(load["params"])
    if params.get("callback"):
        report["report_uri"] = report_uri
        dispatch.callback(params["callback"], report, params.get("callbackQueue"))
    return state.value
