"""What a load looks like to its caller: its state, counts and chunks, summed from the ledger.

``workers.api`` hands these out (``load_status``, ``wait_for_load``); the CLI's
``status`` and progress line print them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from workers.priority import DEFAULT_PRIORITY
from workers.results.reasons import ReasonCount
from workers.results.report import results_view
from workers.state.ledger import TERMINAL_LOAD_STATES, Chunk, ChunkState, Load, LoadState

OK_STATES = frozenset({LoadState.SUCCEEDED, LoadState.SUCCEEDED_WITH_ROW_ERRORS})


@dataclass(frozen=True)
class ChunkTally:
    """Where a load's chunks are: files split so far, and how many are at each step."""

    split: int = 0  # files written by the splitter so far
    waiting: int = 0  # split, waiting for an import slot
    queued: int = 0  # being uploaded, or in Marketo's queue
    importing: int = 0  # importing in Marketo, or result files being fetched
    done: int = 0
    failed: int = 0
    cancelled: int = 0  # taken out of line by a cancel: never sent


@dataclass(frozen=True)
class LoadStatus:
    """A typed summary of one load, read from the ledger."""

    load_id: str
    state: str
    source: str
    object: str
    parameters: dict[str, Any]
    created_at: float
    updated_at: float | None
    finished_at: float | None
    chunks_total: int | None  # None until the source is fully split
    chunks: ChunkTally
    rows_split: int  # rows in the files split so far
    rows_read: int
    rows_rejected: int
    rows_submitted: int  # sent to Marketo (not those of chunks cancelled before)
    rows_processed: int
    rows_failed: int
    rows_warned: int
    rows_in_failed_jobs: int
    rows_not_submitted: int
    jobs_submitted: int
    jobs_retried: int
    error: str | None
    staging_uri: str | None
    rejects_uri: str | None
    report_uri: str | None
    chunk_errors: tuple[tuple[int, str], ...] = field(default_factory=tuple)
    rows_skipped: int = 0  # blank lines
    waiting: str | None = None  # why a live load is not moving, e.g. the daily quota
    waiting_until: float | None = None
    last_error: str | None = None  # the latest unexpected error of one of its steps
    # Its results file (once it has ended): outcomes by row and the top reasons.
    results_uri: str | None = None
    results_error: str | None = None
    outcomes: dict[str, int] = field(default_factory=dict)
    top_failure_reasons: tuple[ReasonCount, ...] = ()
    top_warning_reasons: tuple[ReasonCount, ...] = ()
    retry_of: str | None = None  # the load this one retries
    retried_by: str | None = None  # the load retrying this one
    priority: str = DEFAULT_PRIORITY.value  # which loads' chunks get import slots first
    rows_cancelled: int = 0  # in chunks a cancel took out of line: never sent
    cancel_requested_at: float | None = None
    split_stopped: bool = False  # a cancel stopped the split: the rest of the source not read
    resumes: int = 0

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_LOAD_STATES

    @property
    def ok(self) -> bool:
        """Succeeded, with or without row errors (the CLI's exit status 0)."""
        return self.state in OK_STATES

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["chunk_errors"] = [{"chunk": i, "message": m} for i, m in self.chunk_errors]
        return data


def _tally(chunks: list[Chunk]) -> ChunkTally:
    counts = dict.fromkeys(("waiting", "queued", "importing", "done", "failed", "cancelled"), 0)
    for chunk in chunks:
        state = chunk.state
        if state == ChunkState.WAITING:
            counts["waiting"] += 1
        elif state == ChunkState.SUBMITTING:
            counts["queued"] += 1
        elif state == ChunkState.SUBMITTED:
            bucket = "importing" if chunk.status == "Importing" else "queued"
            counts[bucket] += 1
        elif state == ChunkState.COLLECTING:
            counts["importing"] += 1
        elif state == ChunkState.DONE:
            counts["done"] += 1
        elif state == ChunkState.FAILED:
            counts["failed"] += 1
        elif state == ChunkState.CANCELLED:
            counts["cancelled"] += 1
    return ChunkTally(split=len(chunks), **counts)


def summarize(load: Load, chunks: list[Chunk]) -> LoadStatus:
    """Build a :class:`LoadStatus` from a load's ledger records."""
    params = dict(load.params)
    results = results_view(load.results_summary)
    errors = tuple(
        (c.index, c.message or c.last_failure or "") for c in chunks if c.state == ChunkState.FAILED
    )
    return LoadStatus(
        load_id=load.load_id,
        state=load.state.value,
        source=str(params.get("source", "")),
        object=str(params.get("object", "")),
        parameters=params,
        created_at=load.created_at,
        updated_at=load.updated_at,
        finished_at=load.finished_at,
        chunks_total=load.chunks_total,
        chunks=_tally(chunks),
        rows_split=sum(c.rows for c in chunks),
        rows_read=load.rows_read,
        rows_rejected=load.rows_rejected,
        rows_submitted=load.rows_sent,
        rows_processed=load.rows_processed,
        rows_failed=load.rows_failed,
        rows_warned=load.rows_warned,
        rows_in_failed_jobs=load.rows_in_failed_jobs,
        rows_not_submitted=load.rows_not_submitted,
        jobs_submitted=load.jobs_submitted,
        jobs_retried=load.jobs_retried,
        error=load.error,
        staging_uri=load.staging,
        rejects_uri=load.rejects_uri,
        report_uri=load.report_uri,
        chunk_errors=errors,
        rows_skipped=load.rows_skipped,
        waiting=load.waiting,
        waiting_until=load.waiting_until,
        last_error=load.last_error,
        results_uri=load.results_uri,
        results_error=load.results_error,
        outcomes=results.outcomes,
        top_failure_reasons=results.failure_reasons,
        top_warning_reasons=results.warning_reasons,
        retry_of=load.retry_of,
        retried_by=load.retried_by,
        priority=str(params.get("priority") or DEFAULT_PRIORITY.value),
        rows_cancelled=load.rows_cancelled,
        cancel_requested_at=load.cancel_requested_at,
        split_stopped=load.split_stopped,
        resumes=load.resumes,
    )
