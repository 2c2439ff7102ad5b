"""Building a load's results file at finish: one row per source row, streamed to S3.

Chunk by chunk, in the split's order: the chunk's records (their cells give the
key), its line index (their source lines), Marketo's failure and warning files
matched to them (``matching``), and the chunk's state for why it was never
imported. The rejects file is merged in by source and line. Only one chunk is
held at a time and the file is written as gzip through ``Storage.put_stream``,
so memory stays bounded however many rows the load has. The file depends only
on what the load left in S3 and the ledger, so a finish run twice writes the
same file.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from workers.results.inputs import (
    ResultsUnavailable,
    read_chunk,
    read_rejects,
    read_result_file,
)
from workers.results.matching import ChunkMatcher, key_positions
from workers.results.reasons import ReasonTally
from workers.results.rows import RESULTS_PATH, Outcome, ResultRow, encode_rows
from workers.split.manifest import Manifest, read_manifest
from workers.state.records import Chunk, ChunkState, Load
from workers.storage import Storage, join_uri

logger = logging.getLogger(__name__)

__all__ = ["ResultsSummary", "ResultsUnavailable", "write_results"]


@dataclass
class ResultsSummary:
    """What the results file holds, for the report, the ledger and ``mkto-bulk status``."""

    uri: str
    key_fields: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    failure_reasons: ReasonTally = field(default_factory=ReasonTally)
    warning_reasons: ReasonTally = field(default_factory=ReasonTally)
    # Rows of Marketo's files no record was found for, and figures that disagree.
    unmatched_rows: int = 0
    problems: list[str] = field(default_factory=list)
    rows_not_in_file: int = 0  # read by the split, never written to a file (it stopped)

    @property
    def rows(self) -> int:
        return sum(self.outcomes.values())

    def count(self, row: ResultRow) -> None:
        self.outcomes[row.outcome.value] += 1
        if row.outcome == Outcome.FAILED:
            self.failure_reasons.add(row.reason)
        elif row.outcome == Outcome.WARNED:
            self.warning_reasons.add(row.reason)

    def report(self) -> dict[str, Any]:
        """The report's ``results`` section."""
        return {
            "rows": self.rows,
            "outcomes": {o.value: self.outcomes.get(o.value, 0) for o in _REPORTED},
            "key_fields": self.key_fields,
            "unmatched_result_rows": self.unmatched_rows,
            "rows_not_in_file": self.rows_not_in_file,
            "problems": self.problems,
        }

    def ledger_text(self) -> str:
        """The summary the ledger keeps for ``mkto-bulk status`` (JSON)."""
        return json.dumps(
            {
                "outcomes": self.report()["outcomes"],
                "failure_reasons": [c.as_dict() for c in self.failure_reasons.top()],
                "warning_reasons": [c.as_dict() for c in self.warning_reasons.top()],
            }
        )


_REPORTED = (Outcome.PROCESSED, Outcome.WARNED, Outcome.FAILED, Outcome.REJECTED, Outcome.NOT_SENT)


def write_results(storage: Storage, load: Load, chunks: Sequence[Chunk]) -> ResultsSummary:
    """Write ``<staging>/results/rows.csv.gz`` for a load whose chunks are all terminal."""
    manifest = read_manifest(
        storage, load.staged("chunks"), str(load.params.get("format") or "csv")
    )
    summary = ResultsSummary(load.staged(RESULTS_PATH), list(manifest.key_fields))
    rows = _counted(_merged(storage, load, chunks, manifest, summary), summary)
    storage.put_stream(summary.uri, encode_rows(rows))
    summary.rows_not_in_file = max(0, load.rows_read - load.rows_skipped - summary.rows)
    if summary.rows_not_in_file:
        summary.problems.append(
            f"{summary.rows_not_in_file:,} rows read by the split were never written to a "
            "chunk (the source failed while it was split): they are not in the file"
        )
    logger.info("results written load_id=%s rows=%d uri=%s", load.load_id, summary.rows,
                summary.uri)  # fmt: skip
    return summary


def _counted(rows: Iterator[ResultRow], summary: ResultsSummary) -> Iterator[ResultRow]:
    for row in rows:
        summary.count(row)
        yield row


def _merged(
    storage: Storage,
    load: Load,
    chunks: Sequence[Chunk],
    manifest: Manifest,
    summary: ResultsSummary,
) -> Iterator[ResultRow]:
    """Chunk rows and rejected rows, merged by (source in split order, line)."""
    rejects = read_rejects(storage, load.rejects_uri, manifest)
    waiting = next(rejects, None)
    for row in _chunk_rows(storage, load, chunks, manifest, summary):
        place = (manifest.rank(row.source), row.line)
        while waiting is not None and (manifest.rank(waiting.source), waiting.line) < place:
            yield waiting
            waiting = next(rejects, None)
        yield row
    if waiting is not None:
        yield waiting
        yield from rejects


def _chunk_rows(
    storage: Storage,
    load: Load,
    chunks: Sequence[Chunk],
    manifest: Manifest,
    summary: ResultsSummary,
) -> Iterator[ResultRow]:
    by_index = {chunk.index: chunk for chunk in chunks}
    written = max([manifest.files, *(c.index + 1 for c in chunks)])
    for index in range(written):
        chunk = by_index.get(index)
        uri = chunk.uri if chunk and chunk.uri else _chunk_uri(load, manifest, index)
        content = read_chunk(storage, uri, manifest.delimiter)
        matcher = ChunkMatcher(content.records, len(content.header),
                               key_positions(content.header, manifest.key_fields))  # fmt: skip
        outcomes, reasons = _outcomes(storage, load, chunk, index, matcher, manifest, summary)
        keys = matcher.keys()
        lines = content.lines
        for source, first, end in lines.source_runs():
            for record in range(first, end):
                yield ResultRow(source, lines.lines[record], keys[record], outcomes(record),
                                reasons(record), index, record)  # fmt: skip


def _chunk_uri(load: Load, manifest: Manifest, index: int) -> str:
    """A file the split wrote but never announced (its source failed after it)."""
    return join_uri(load.staged("chunks"), f"chunk-{index:05d}.{manifest.output_format}")


Lookup = Any  # (record index) -> value


def _outcomes(
    storage: Storage,
    load: Load,
    chunk: Chunk | None,
    index: int,
    matcher: ChunkMatcher,
    manifest: Manifest,
    summary: ResultsSummary,
) -> tuple[Lookup, Lookup]:
    """(outcome of record i, reason of record i) for one chunk."""
    if chunk is None or chunk.state != ChunkState.DONE:
        why = _not_sent_reason(load, chunk)
        return (lambda _: Outcome.NOT_SENT), (lambda _: why)
    failed = matcher.match(read_result_file(storage, chunk.failures_uri, manifest.delimiter))
    warned = matcher.match(read_result_file(storage, chunk.warnings_uri, manifest.delimiter))
    summary.unmatched_rows += failed.unmatched + warned.unmatched
    for what, found, counted in (("failed", failed, chunk.failed),
                                 ("warned", warned, chunk.warnings)):  # fmt: skip
        if len(found.reasons) != counted:
            summary.problems.append(
                f"chunk {index}: Marketo {what} {counted:,} rows, {len(found.reasons):,} of "
                "them matched to a record of the chunk"
            )

    def outcome(record: int) -> Outcome:
        if record in failed.reasons:
            return Outcome.FAILED
        return Outcome.WARNED if record in warned.reasons else Outcome.PROCESSED

    def reason(record: int) -> str:
        return failed.reasons.get(record) or warned.reasons.get(record, "")

    return outcome, reason


def _not_sent_reason(load: Load, chunk: Chunk | None) -> str:
    if chunk is None:
        return f"not submitted: the source failed: {load.error or 'the split stopped'}"
    if chunk.message or chunk.last_failure:
        return str(chunk.message or chunk.last_failure)
    return "its import job failed" if chunk.batch_id else "not submitted"
