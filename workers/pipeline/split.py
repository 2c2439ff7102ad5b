"""Splitting a load's source into chunks that queue for Marketo as they appear."""

from __future__ import annotations

import logging
import time

from workers.errors import (
    DailyQuotaExhausted,
    InputError,
    LeaseLost,
    PermanentError,
    UnexpectedStepError,
)
from workers.load_request import LoadRequest, RequestPolicy, parse_load_request
from workers.objects import REGISTRY
from workers.pipeline import line, quota_wait
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.outcomes import StepOutcome
from workers.pipeline.runtime import Runtime
from workers.pipeline.step_errors import describe, is_unexpected
from workers.pipeline.submit import pump
from workers.split.header_check import ColumnMapping
from workers.split.run import SplitOptions, SplitRun
from workers.state.ledger import ChunkFields, ChunkState, Ledger, Load, LoadFields, LoadState
from workers.state.split_lease import SplitLease
from workers.targets import target_fields

logger = logging.getLogger(__name__)


def split(rt: Runtime, dispatch: Dispatcher, load_id: str) -> StepOutcome:
    """Split the source; every file becomes a chunk in line for a permit at once.

    Splitting is deterministic, so a split that died halfway is simply run
    again: chunks already recorded are found in the ledger and not repeated.
    A load cancelled while splitting stops at the next chunk boundary; one whose
    split died before it recorded where it stopped is split again up to there.
    """
    if not _may_split(rt.ledger.load(load_id)):
        return StepOutcome.NOT_SPLITTING
    settings = rt.settings
    lease = SplitLease(rt.redis, load_id, settings.split_lease_s, settings.split_lease_renew_s)
    if not lease.acquire():
        return StepOutcome.LEASE_HELD
    with lease.kept():
        load = rt.ledger.load(load_id)
        if not _may_split(load):  # another copy finished the split meanwhile
            return StepOutcome.NOT_SPLITTING
        if load.state != LoadState.CANCELLING:
            moved = rt.ledger.update_load(
                load_id, [LoadState.PENDING, LoadState.SPLITTING], LoadState.SPLITTING
            )
            if not moved.applied:  # it moved on meanwhile: a reconciler sweep looks again
                return StepOutcome.NOT_SPLITTING
        # Every run of the split counts, so a split that ran again is visible.
        rt.ledger.add_to_load(load_id, {"split_runs": 1})
        try:
            # Checked again under this worker's policy (ALLOW_LOCAL_SOURCES may differ).
            policy = RequestPolicy.from_settings(rt.settings)
            request = parse_load_request(dict(load.params), policy)
        except InputError as error:
            _fail_split(rt, dispatch, load_id, None, error)
            return StepOutcome.FAILED
        try:
            return _split(rt, dispatch, load, request, lease)
        except LeaseLost as error:  # the lease lapsed (a long stall): the new owner goes on
            logger.warning("split stopped load_id=%s: %s", load_id, error)
            return StepOutcome.LEASE_LOST


def _may_split(load: Load) -> bool:
    """Not split yet, or cancelled while splitting and not yet told where the split stopped."""
    if load.state == LoadState.CANCELLING:
        return load.chunks_total is None
    return load.state in (LoadState.PENDING, LoadState.SPLITTING)


def _split(
    rt: Runtime, dispatch: Dispatcher, load: Load, request: LoadRequest, lease: SplitLease
) -> StepOutcome:
    load_id = load.load_id
    try:
        spec = REGISTRY[request.object]
        target = spec.import_target(request)
        description = spec.describe(rt.marketo, target)
        spec.check_parameters(rt.marketo, target)  # e.g. a list or a program it names
    except PermanentError as error:  # e.g. an unknown custom object: retrying cannot help
        _fail_split(rt, dispatch, load_id, None, error)
        return StepOutcome.FAILED
    except DailyQuotaExhausted as error:  # the task retries; the load says why it waits
        quota_wait.record(rt, load_id, error)
        raise
    except Exception as error:
        if not is_unexpected(error):
            raise
        return _unexpected_in_split(rt, dispatch, load_id, None, error)
    options = SplitOptions(
        limit=rt.settings.chunk_byte_limit,
        input_format=request.input_format.value if request.input_format else None,
        output_format=request.format.value,
        encoding=request.encoding or "utf-8",
        reject_threshold=rt.settings.reject_threshold,
        max_expansion_ratio=rt.settings.split_max_expansion_ratio,
        max_source_bytes=rt.settings.split_max_source_bytes,
        mapping=ColumnMapping(request.mapping) if request.mapping else None,
        target=target_fields(request, description),
    )
    run = SplitRun(request.source, load.staged("chunks"), storage=rt.storage, options=options)
    recorded = set(rt.ledger.chunk_indexes(load_id))
    files = iter(run)
    try:
        for info in files:
            lease.check()
            if rt.ledger.load(load_id).state == LoadState.CANCELLING:
                if info.index in recorded:  # up to where an earlier run of the split got
                    continue
                files.close()  # its figures so far are final: nothing more is read
                return _stop(rt, dispatch, load_id, run)
            fields: ChunkFields = {
                "uri": info.uri,
                "bytes": info.bytes,
                "rows": info.rows,
                "first_source": info.first_source,
                "first_line": info.first_line,
                "last_source": info.last_source,
                "last_line": info.last_line,
                "attempts": 1,
            }
            rt.ledger.add_chunk(load_id, info.index, fields)
            if rt.ledger.chunk(load_id, info.index).state == ChunkState.WAITING:
                line.enqueue(rt, dispatch, Ledger.chunk_id(load_id, info.index))
            pump(rt, dispatch)
    except InputError as error:
        _fail_split(rt, dispatch, load_id, run, error)
        return StepOutcome.FAILED
    except Exception as error:
        if not is_unexpected(error):
            raise
        return _unexpected_in_split(rt, dispatch, load_id, run, error)
    result = run.result
    _record_totals(
        rt,
        dispatch,
        load_id,
        [LoadState.SPLITTING],
        {
            "chunks_total": len(result.files),
            "rows_read": result.rows + result.rejects + result.skipped,
            "rows_rejected": result.rejects,
            "rows_skipped": result.skipped,
            "rows_submitted": result.rows,
            "rows_not_submitted": 0,
            "rejects_uri": result.rejects_uri or "",
            "split_at": time.time(),
        },
    )
    logger.info(
        "split done load_id=%s files=%d rows=%d rejects=%d",
        load_id,
        len(result.files),
        result.rows,
        result.rejects,
    )
    dispatch.finish(load_id)
    return StepOutcome.SPLIT


def _record_totals(
    rt: Runtime, dispatch: Dispatcher, load_id: str, allowed: list[LoadState], fields: LoadFields
) -> None:
    """The split's figures, and the load on to loading; a load cancelled meanwhile stays
    cancelling (its chunks recorded since are taken out of line)."""
    moved = rt.ledger.update_load(load_id, allowed, LoadState.LOADING, fields)
    if not moved.applied and moved.found == LoadState.CANCELLING:
        rt.ledger.update_load(load_id, [LoadState.CANCELLING], LoadState.CANCELLING, fields)
        line.cancel_waiting(rt, dispatch, load_id)


def _stop(rt: Runtime, dispatch: Dispatcher, load_id: str, run: SplitRun) -> StepOutcome:
    """The load was cancelled: the split ends at this chunk boundary.

    Rows read into files not in the ledger (the one at the boundary, the rest
    of the current block) count as not submitted; the rest of the source was
    not read (``split_stopped``: the report says up to which line it was).
    """
    progress = run.progress
    assert progress is not None, "the split stops only after it wrote a file"
    in_chunks = sum(chunk.rows for chunk in rt.ledger.chunks(load_id))
    fields: LoadFields = {
        "chunks_total": len(rt.ledger.chunk_indexes(load_id)),
        "rows_read": progress.rows + progress.rejects + progress.skipped,
        "rows_rejected": progress.rejects,
        "rows_skipped": progress.skipped,
        "rows_submitted": in_chunks,
        "rows_not_submitted": progress.rows - in_chunks,
        "rejects_uri": progress.rejects_uri or "",
        "split_at": time.time(),
        "split_stopped": 1,
    }
    rt.ledger.update_load(load_id, [LoadState.CANCELLING], LoadState.CANCELLING, fields)
    line.cancel_waiting(rt, dispatch, load_id)
    logger.info("split stopped load_id=%s (cancelled) after %s chunks", load_id,
                fields["chunks_total"])  # fmt: skip
    dispatch.finish(load_id)
    return StepOutcome.SPLIT_STOPPED


def _fail_split(
    rt: Runtime, dispatch: Dispatcher, load_id: str, run: SplitRun | None, error: PermanentError
) -> None:
    """The source is unusable: nothing more is submitted; chunks already in Marketo finish.

    Rows of chunks never submitted (withdrawn from the line, or never announced
    because the source failed first) count as ``rows_not_submitted``, so that
    rows read = submitted + rejected + not submitted.
    """
    for index in rt.ledger.chunk_indexes(load_id):
        chunk_id = Ledger.chunk_id(load_id, index)
        withdrawn = rt.lane(chunk_id).withdraw(chunk_id)
        moved = rt.ledger.move_chunk(
            load_id,
            index,
            [ChunkState.WAITING],
            ChunkState.FAILED,
            {"message": "not submitted: the source failed validation", "not_submitted": 1},
            {"chunks_failed": 1},
        )
        if moved.applied and not withdrawn:
            rt.lane(chunk_id).release(chunk_id)
    progress = run.progress if run else None
    rows = progress.rows if progress else 0
    rejects = progress.rejects if progress else 0
    skipped = progress.skipped if progress else 0
    chunks = rt.ledger.chunks(load_id)
    submitted = sum(c.rows for c in chunks if not c.not_submitted)
    _record_totals(
        rt,
        dispatch,
        load_id,
        [LoadState.PENDING, LoadState.SPLITTING],
        {
            "error": str(error),
            "chunks_total": len(chunks),
            "rows_read": rows + rejects + skipped,
            "rows_rejected": rejects,
            "rows_skipped": skipped,
            "rows_submitted": submitted,
            "rows_not_submitted": rows - submitted,
            "rejects_uri": (progress.rejects_uri if progress else None) or "",
        },
    )
    logger.error("source failed load_id=%s: %s", load_id, error)
    dispatch.finish(load_id)


def _unexpected_in_split(
    rt: Runtime, dispatch: Dispatcher, load_id: str, run: SplitRun | None, error: Exception
) -> StepOutcome:
    """Counted on the load; the reconciler splits again, and at the limit the load fails."""
    secret = rt.settings.marketo_client_secret
    text = describe(error, secret.get_secret_value() if secret else None)
    count = rt.ledger.count_load_error(load_id, f"split: {text}")
    limit = rt.settings.unexpected_error_attempts
    logger.error("unexpected error splitting load_id=%s (%d of %d): %s", load_id, count, limit,
                 text, exc_info=error)  # fmt: skip
    if count < limit:
        return StepOutcome.UNEXPECTED_ERROR
    failure = UnexpectedStepError(f"split failed {count} times with an unexpected error: {text}")
    _fail_split(rt, dispatch, load_id, run, failure)
    return StepOutcome.FAILED
