"""Collecting a finished job's result files into S3, then handing the load to finish.

A Failed job is retried a bounded number of times (``JOB_MAX_ATTEMPTS``); a
chunk still collecting when a worker dies is collected again by the reconciler.
"""

from __future__ import annotations

import logging
import tempfile

from workers.errors import DailyQuotaExhausted
from workers.importers import Job, ResultFile
from workers.pipeline import line, quota_wait
from workers.pipeline.chunk_errors import jobs_key, unexpected
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.outcomes import StepOutcome
from workers.pipeline.runtime import Runtime
from workers.pipeline.step_errors import is_unexpected
from workers.state.ledger import Chunk, ChunkFields, ChunkState, Ledger, LoadState
from workers.targets import import_target
from workers.telemetry.context import bind

logger = logging.getLogger(__name__)


def collect(rt: Runtime, dispatch: Dispatcher, load_id: str, index: int) -> StepOutcome:
    """Copy Marketo's failure and warning files to S3; retry a Failed job a bounded number
    of times."""
    chunk = rt.ledger.chunk(load_id, index)
    bind(batch_id=chunk.batch_id)
    if chunk.state != ChunkState.COLLECTING:
        return StepOutcome.NOT_COLLECTING
    try:
        return _collect(rt, dispatch, load_id, index, chunk)
    except DailyQuotaExhausted as error:
        # Nothing is held; the reconciler collects it again once it has been quiet.
        quota_wait.record(rt, load_id, error)
        return StepOutcome.QUOTA_WAIT
    except Exception as error:
        if not is_unexpected(error):
            raise
        return unexpected(rt, dispatch, load_id, index, "collect", error)


def _collect(
    rt: Runtime, dispatch: Dispatcher, load_id: str, index: int, chunk: Chunk
) -> StepOutcome:
    chunk_id = Ledger.chunk_id(load_id, index)
    # The job is terminal in Marketo. A poll that died after moving the chunk here
    # may have left its permit and its place among the jobs: free both (idempotent).
    rt.redis.zrem(jobs_key(rt), chunk_id)
    if rt.lane(chunk_id).release(chunk_id):
        dispatch.pump()
    load = rt.ledger.load(load_id)
    request = load.request
    target = import_target(request)
    importer = rt.importer_for(request)
    job = Job(chunk.required_batch_id(), chunk.rows)
    fields: ChunkFields = {}
    calls = 0
    downloads = ((ResultFile.FAILURES, chunk.failed), (ResultFile.WARNINGS, chunk.warnings))
    for which, count in downloads:
        if count <= 0:
            continue
        uri = load.staged(f"{which}/chunk-{index:05d}.csv")
        with tempfile.TemporaryFile() as spool:
            calls += importer.result_file_calls
            if importer.result_file(target, job, which, spool) is not None:
                spool.seek(0)
                rt.storage.upload_fileobj(spool, uri)
                fields.update(_result_file(which, uri))
    if calls:
        quota_wait.clear(rt, load_id, load)
    if chunk.status == "Failed":
        attempts = chunk.attempts or 1
        cancelled = load.state == LoadState.CANCELLING  # no new job for a cancelled load
        if attempts - chunk.attempts_before_resume < rt.settings.job_max_attempts and not cancelled:
            moved = rt.ledger.move_chunk(
                load_id,
                index,
                [ChunkState.COLLECTING],
                ChunkState.WAITING,
                {
                    **fields,
                    "attempts": attempts + 1,
                    "batch_id": "",
                    "status": "",
                    # The next job's own start, for its polls and the report's timeline.
                    "importing_since": "",
                    "last_failure": chunk.message or "",
                },
                {"jobs_retried": 1, "api_calls": calls},
            )
            if moved.applied:
                logger.warning("job failed, retrying load_id=%s chunk=%s", load_id, index)
                line.enqueue(rt, dispatch, chunk_id)
                dispatch.pump()
            return StepOutcome.RETRY
        if cancelled:
            fields["message"] = f"{chunk.message or 'job failed'}; not retried: load cancelled"
        rt.ledger.move_chunk(
            load_id,
            index,
            [ChunkState.COLLECTING],
            ChunkState.FAILED,
            fields,
            {"chunks_failed": 1, "rows_in_failed_jobs": chunk.rows, "api_calls": calls},
        )
    else:
        rt.ledger.move_chunk(
            load_id,
            index,
            [ChunkState.COLLECTING],
            ChunkState.DONE,
            fields,
            {
                "rows_processed": chunk.processed,
                "rows_failed": chunk.failed,
                "rows_warned": chunk.warnings,
                "chunks_done": 1,
                "api_calls": calls,
            },
        )
    dispatch.finish(load_id)
    return StepOutcome.COLLECTED


def _result_file(which: str, uri: str) -> ChunkFields:
    return {"failures_uri": uri} if which == "failures" else {"warnings_uri": uri}
