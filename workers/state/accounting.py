"""Do a finished load's counts add up? Checked per chunk and per load before it may succeed.

Per load: rows read = submitted + rejected + skipped (blank lines) + not
submitted, and submitted = processed + failed + rows in failed jobs + rows
cancelled (in chunks a cancel took out of line, never sent; the rows of the
load's cancelled chunks, exactly). Per chunk
whose job completed: its rows = Marketo's processed + failed, from Marketo's own
import status. A load where any of this fails ends ``counts_mismatch``, with a
message that names the chunks and the figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from workers.state.records import Chunk, ChunkState, Load

PREFIX = "counts do not add up: "
COUNTS_MISMATCH_METRIC = "counts_mismatch"  # loads ended counts_mismatch (a fleet counter)
MAX_NAMED_CHUNKS = 10  # the message names this many chunks, then says how many more


def chunk_problem(chunk: Chunk) -> str | None:
    """A completed job whose rows are not all processed or failed by Marketo's count."""
    if chunk.state != ChunkState.DONE:
        return None
    rows, processed, failed = chunk.rows, chunk.processed, chunk.failed
    if rows == processed + failed:
        return None
    return (
        f"chunk {chunk.index} submitted {rows:,} rows, "
        f"Marketo processed {processed:,} + failed {failed:,}"
    )


def load_problems(load: Load, chunks: list[Chunk]) -> list[str]:
    """The load's own totals against each other and against its chunks."""
    problems = []
    read = load.rows_read
    submitted = load.rows_submitted
    rejected = load.rows_rejected
    skipped = load.rows_skipped
    not_submitted = load.rows_not_submitted
    if read != submitted + rejected + skipped + not_submitted:
        problems.append(
            f"{read:,} rows read, but {submitted:,} submitted + {rejected:,} rejected + "
            f"{skipped:,} skipped + {not_submitted:,} not submitted"
        )
    in_chunks = sum(c.rows for c in chunks if not c.not_submitted)
    if submitted != in_chunks:
        problems.append(f"{submitted:,} rows submitted, but the chunks hold {in_chunks:,}")
    cancelled = load.rows_cancelled
    in_cancelled = sum(c.rows for c in chunks if c.state == ChunkState.CANCELLED)
    if cancelled != in_cancelled:
        problems.append(f"{cancelled:,} rows cancelled, but the cancelled chunks hold "
                        f"{in_cancelled:,}")  # fmt: skip
    processed, failed = load.rows_processed, load.rows_failed
    in_failed_jobs = load.rows_in_failed_jobs
    if submitted - cancelled != processed + failed + in_failed_jobs:
        sent = f"{submitted:,} rows submitted"
        if cancelled:
            sent = f"{submitted - cancelled:,} rows sent ({submitted:,} less {cancelled:,} "
            sent += "cancelled)"
        problems.append(
            f"{sent}, but Marketo processed {processed:,} + "
            f"failed {failed:,} + {in_failed_jobs:,} in failed jobs"
        )
    return problems


def mismatch(load: Load, chunks: list[Chunk], api_problems: Sequence[str] = ()) -> str | None:
    """One line naming every chunk (up to a bound) and total that does not add up, or None.

    ``api_problems``: what a request-based API's own account of the rows found
    (``Importer.sending``), checked with Marketo's counts.
    """
    per_chunk = [p for p in (chunk_problem(c) for c in chunks) if p] + list(api_problems)
    problems = per_chunk[:MAX_NAMED_CHUNKS]
    if len(per_chunk) > MAX_NAMED_CHUNKS:
        problems.append(f"and {len(per_chunk) - MAX_NAMED_CHUNKS} more chunks")
    problems += load_problems(load, chunks)
    return PREFIX + "; ".join(problems) if problems else None
