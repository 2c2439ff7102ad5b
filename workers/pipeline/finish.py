"""Closing a load: its final state, its results file and its report.

The report (JSON in S3, next to the load) is the durable record of the
ledger: per chunk its batch id, sizes, Marketo's counts and links to the
failure and warning files, and totals that account for every input row.
``report.html`` beside it draws the same record (``workers.report``).
The results file (``workers.results``) says what became of each source row.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any

from workers import defaults
from workers.importers import IMPORTERS
from workers.importers.base import Sending
from workers.marketo.metrics import Metrics
from workers.pipeline import quota_wait
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.outcomes import StepOutcome
from workers.pipeline.runtime import Runtime
from workers.pipeline.step_errors import describe, is_unexpected
from workers.report.write import write_html
from workers.results.build import ResultsSummary, write_results
from workers.results.report import results_report
from workers.state import accounting
from workers.state.ledger import (
    ACTIVE_LOADS,
    TERMINAL_CHUNK_STATES,
    Chunk,
    ChunkState,
    Load,
    LoadFields,
    LoadState,
)

logger = logging.getLogger(__name__)


def _chunk_entry(c: Chunk) -> dict[str, Any]:
    return {
        "chunk": c.index,
        "state": c.state.value,
        "batch_id": None if c.batch_id is None else str(c.batch_id),
        "bytes": c.bytes,
        "rows": c.rows,
        "processed": c.processed,
        "failed": c.failed,
        "warnings": c.warnings,
        "marketo_status": c.status,
        "message": c.message,
        "attempts": c.attempts,
        "submissions": c.submissions,
        "unexpected_errors": c.unexpected_errors,
        "last_error": c.last_error,
        "source_lines": [c.first_source, c.first_line, c.last_source, c.last_line],
        "submitted_at": c.submitted_at,
        "finished_at": c.finished_at,
        "file": c.uri,
        "failures_file": c.failures_uri,
        "warnings_file": c.warnings_uri,
    }


def _sending_entry(load: Load, chunks: list[Chunk], sending: Sending) -> dict[str, Any]:
    """Rows read = skipped + rejected before sending + sent + not sent (a request-based API).

    Each figure is counted on its own (the split's counters, the API's record of each
    request), so the sum is a check, made with the load's others.
    """
    # Rows the split read that no chunk holds: the source failed part way.
    never_chunked = load.rows_not_submitted - sum(c.rows for c in chunks if c.not_submitted)
    return {
        "rows_read": load.rows_read,
        "rows_skipped": load.rows_skipped,
        # Refused by the split (bad records) or by the API's encoding (a cell not of its
        # field's type, an object over the request limit, no key).
        "rows_rejected_before_sending": load.rows_rejected + sending.rows_refused_before_sending,
        "rows_sent": sending.rows_sent,
        "rows_accepted": sending.rows_accepted,
        "rows_in_refused_requests": sending.rows_in_refused_requests,
        "rows_not_sent": sending.rows_not_sent + never_chunked,
        "requests_accepted": sending.requests_accepted,
        "requests_refused": sending.requests_refused,
    }


def _cancel_entry(load: Load, chunks: list[Chunk]) -> dict[str, Any]:
    """What a cancel left unsent: the cancelled chunks (each with its source lines in
    ``chunks``), and, when the split was stopped, where the source stopped being read."""
    last = max(chunks, key=lambda c: c.index, default=None)
    read_up_to = None
    if load.split_stopped:
        read_up_to = {"source": last.last_source, "line": last.last_line} if last else {}
    return {
        "requested_at": load.cancel_requested_at,
        "rows_sent": load.rows_sent,
        "rows_not_sent": load.rows_cancelled + load.rows_not_submitted,
        "chunks_cancelled": [c.index for c in chunks if c.state == ChunkState.CANCELLED],
        # None: the whole source was split. Else rows after this line were not sent.
        "source_read_up_to": read_up_to,
    }


def build_report(
    load: Load,
    chunks: list[Chunk],
    sending: Sending | None = None,
    results: ResultsSummary | None = None,
) -> dict[str, Any]:
    """The load report: everything an operator needs to trust (or chase) the load.

    ``sending``: a request-based API's own account of the rows (see ``Importer.sending``);
    ``results``: what the results file holds.
    """
    totals = {
        "rows_read": load.rows_read,
        "rows_rejected": load.rows_rejected,
        "rows_skipped": load.rows_skipped,
        "rows_submitted": load.rows_sent,  # sent to Marketo (cancelled chunks' rows are not)
        "rows_processed": load.rows_processed,
        "rows_failed": load.rows_failed,
        "rows_warned": load.rows_warned,
        "rows_in_failed_jobs": load.rows_in_failed_jobs,
        "rows_not_submitted": load.rows_not_submitted,
        "rows_cancelled": load.rows_cancelled,
        "chunks_done": load.chunks_done,
        "chunks_failed": load.chunks_failed,
        "chunks_cancelled": load.chunks_cancelled,
        "jobs_submitted": load.jobs_submitted,
        "jobs_retried": load.jobs_retried,
        "too_many_imports": load.too_many_imports,
        "possible_double_submissions": load.possible_double_submissions,
        "quota_waits": load.quota_waits,
        "api_calls": load.api_calls,
        "chunks": len(chunks),
    }
    parameters = dict(load.params)
    api = str(parameters.get("api") or defaults.IMPORT_API)
    importer = IMPORTERS.get(api)
    return {
        "load_id": load.load_id,
        "source": parameters.get("source"),
        "parameters": parameters,
        "api": api,
        # What "processed" means for this API, when that is not Marketo's own count.
        "api_note": importer.report_note if importer else None,
        "error": load.error,
        "counts_ok": accounting.mismatch(load, chunks, _problems(sending)) is None,
        "last_error": load.last_error,
        "last_wait": load.last_wait,
        "rejects_file": load.rejects_uri,
        "created_at": load.created_at,
        "resumes": load.resumes,
        **({"cancel": _cancel_entry(load, chunks)} if load.state == LoadState.CANCELLING else {}),
        "totals": totals,
        "chunks": [_chunk_entry(c) for c in chunks],
        **({"sending": _sending_entry(load, chunks, sending)} if sending is not None else {}),
        **results_report(results, load.results_error),
        "retry_of": load.retry_of,
        "retried_by": load.retried_by,
    }


def _problems(sending: Sending | None) -> tuple[str, ...]:
    return sending.problems if sending is not None else ()


def final_state(load: Load, chunks: list[Chunk], sending: Sending | None = None) -> LoadState:
    """Failed (the source, or every job); else counts_mismatch when the counts do not add up.

    A cancelled load ends cancelled, whatever it sent, unless its counts do not add up.
    """
    if load.state == LoadState.CANCELLING:
        if accounting.mismatch(load, chunks, _problems(sending)):
            return LoadState.COUNTS_MISMATCH
        return LoadState.CANCELLED
    if load.error or (chunks and all(c.state == ChunkState.FAILED for c in chunks)):
        return LoadState.FAILED
    if not chunks and not load.rows_read:
        return LoadState.FAILED
    if accounting.mismatch(load, chunks, _problems(sending)):
        return LoadState.COUNTS_MISMATCH
    troubled = any(c.state == ChunkState.FAILED for c in chunks)
    if troubled or load.rows_failed or load.rows_rejected:
        return LoadState.SUCCEEDED_WITH_ROW_ERRORS
    return LoadState.SUCCEEDED


def _write_page(
    rt: Runtime, load: Load, chunks: list[Chunk], state: LoadState, finished_at: float
) -> str | None:
    """``report.html`` next to ``report.json``; its URI, or None when it could not be written.

    The page is a view of the report: a failure to build or store it is logged and
    never holds the load back from its final state.
    """
    try:
        return write_html(rt.storage, load, chunks, state=state, finished_at=finished_at)
    except Exception as error:
        logger.warning(
            "load_id=%s report.html not written: %s: %s", load.load_id, type(error).__name__, error
        )
        return None


def _results(
    rt: Runtime, load: Load, chunks: list[Chunk]
) -> tuple[ResultsSummary | None, str | None]:
    """Write the results file: (its summary, None), or (None, why it could not be).

    An S3 outage raises (the task retries); anything else must not keep the load open:
    the load ends without a results file, and says why.
    """
    try:
        return write_results(rt.storage, load, chunks), None
    except Exception as error:
        if not is_unexpected(error):
            raise
        text = describe(error)
        logger.error("no results file load_id=%s: %s", load.load_id, text, exc_info=error)
        return None, text


def finish(rt: Runtime, dispatch: Dispatcher, load_id: str) -> StepOutcome | LoadState:
    """Close the load once it is split and every chunk is terminal; idempotent.

    Returns the load's final state, or why it was not closed now.
    """
    if rt.ledger.load(load_id).state == LoadState.CANCELLING:
        rt.load_lane(load_id).cancel_waiting(load_id)  # what is still in line is not sent
    load, chunks = rt.ledger.snapshot(load_id)
    if load.state not in (LoadState.LOADING, LoadState.CANCELLING):
        return StepOutcome.NOT_LOADING
    if (
        load.resuming  # its chunks are going back in line
        or load.chunks_total is None
        or len(chunks) < load.chunks_total
        or any(c.state not in TERMINAL_CHUNK_STATES for c in chunks)
    ):
        return StepOutcome.IN_PROGRESS
    # From the recorded parameters, not the parsed request: a load whose request no longer
    # validates (recorded before a rule) still finishes, failed, with its report.
    api = str(load.params.get("api") or defaults.IMPORT_API)
    sending = rt.importer_named(api).sending(chunks) if api in IMPORTERS else None
    state = final_state(load, chunks, sending)
    fields: LoadFields = {}
    if state == LoadState.COUNTS_MISMATCH:
        error = accounting.mismatch(load, chunks, _problems(sending)) or ""
        fields["error"] = error
        load = dataclasses.replace(load, error=error or None)
    results, results_error = _results(rt, load, chunks)
    if results is not None:
        fields["results_uri"] = results.uri
        fields["results_summary"] = results.ledger_text()
    elif results_error:
        fields["results_error"] = results_error
        load = dataclasses.replace(load, results_error=results_error)
    report = build_report(load, chunks, sending, results)
    report["state"] = state.value
    report["finished_at"] = time.time()
    report["report_html"] = _write_page(rt, load, chunks, state, report["finished_at"])
    # Each resume writes its own report; the earlier ones stay.
    name = f"report-resume-{load.resumes}.json" if load.resumes else "report.json"
    report_uri = load.staged(name)
    rt.storage.put(report_uri, [json.dumps(report, indent=2).encode()])
    fields["report_uri"] = report_uri
    fields["finished_at"] = report["finished_at"]
    moved = rt.ledger.update_load(load_id, [load.state], state, fields)
    if not moved.applied:
        return StepOutcome.ALREADY_FINISHED
    rt.redis.srem(ACTIVE_LOADS, load_id)
    rt.ledger.clear_load_fields(load_id, *quota_wait.WAIT_FIELDS)
    if state == LoadState.COUNTS_MISMATCH:
        Metrics(rt.redis, rt.settings.instance).incr(accounting.COUNTS_MISMATCH_METRIC)
        logger.error("load_id=%s ended %s: %s", load_id, state.value, fields["error"])
    logger.info("load finished load_id=%s state=%s report=%s", load_id, state.value, report_uri)
    params = load.params
    if params.get("callback"):
        report["report_uri"] = report_uri
        dispatch.callback(params["callback"], report, params.get("callbackQueue"))
    return state
