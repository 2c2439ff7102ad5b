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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import Any

from workers.results.inputs import (
    ChunkContent,
    ResultsUnavailable,
    read_chunk,
    read_rejects,
    read_result_file,
)
from workers.results.matching import ChunkMatcher, Matched
from workers.results.reasons import ReasonTally
from workers.results.rows import RESULTS_PATH, Outcome, ResultRow, encode_batches
from workers.split.line_index import LineIndex
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
    fallback_format = str(load.params.get("format") or "csv")
    manifest = read_manifest(storage, load.staged("chunks"), fallback_format)
    summary = ResultsSummary(load.staged(RESULTS_PATH), list(manifest.key_fields))
    batches = _batches(storage, load, chunks, manifest, summary)
    storage.put_stream(summary.uri, encode_batches(batches))
    summary.rows_not_in_file = max(0, load.rows_read - load.rows_skipped - summary.rows)
    if summary.rows_not_in_file:
        summary.problems.append(
            f"{summary.rows_not_in_file:,} rows read by the split were never written to a "
            "chunk (the source failed while it was split): they are not in the file"
        )
    logger.info("results written load_id=%s rows=%d uri=%s", load.load_id, summary.rows,
                summary.uri)  # fmt: skip
    return summary


Place = tuple[int, int]  # (the source's rank in the split, line)
Row = Sequence[object]
ChunkRow = tuple[str, int, str, str, str, int, int]  # a chunk's row, as ``Row``


def _batches(
    storage: Storage,
    load: Load,
    chunks: Sequence[Chunk],
    manifest: Manifest,
    summary: ResultsSummary,
) -> Iterator[Iterable[Row]]:
    """The file's rows, a chunk's at a time, with the rejected rows merged in by place."""
    rejects = read_rejects(storage, load.rejects_uri, manifest)
    waiting = next(rejects, None)

    def place(row: ResultRow) -> Place:
        return manifest.rank(row.source), row.line

    def rejected_before(limit: Place | None) -> list[Row]:
        nonlocal waiting
        taken: list[Row] = []
        while waiting is not None and (limit is None or place(waiting) < limit):
            summary.count(waiting)
            taken.append(waiting.cells())
            waiting = next(rejects, None)
        return taken

    for block in _blocks(storage, load, chunks, manifest, summary):
        if before := rejected_before(block.place(0, manifest)):
            yield before
        if waiting is None or place(waiting) > block.place(block.rows - 1, manifest):
            yield block.rows_out()  # the usual case: no rejected row among its rows
            continue
        merged: list[Row] = []
        for row in block.rows_out():
            merged += rejected_before((manifest.rank(row[0]), row[1]))
            merged.append(row)
        yield merged
    if rest := rejected_before(None):
        yield rest


@dataclass
class _Block:
    """One chunk's rows: their lines and keys, and the outcome and reason of each."""

    index: int
    lines: LineIndex
    keys: list[str]
    outcome: Outcome  # of every record not in ``marked``
    reason: str
    marked: dict[int, tuple[Outcome, str]]

    @property
    def rows(self) -> int:
        return self.lines.rows

    def place(self, record: int, manifest: Manifest) -> Place:
        return manifest.rank(self.lines.source_of(record)), self.lines.lines[record]

    def rows_out(self) -> Iterator[ChunkRow]:
        """The rows as the file's cells, built column by column."""
        outcomes = [self.outcome.value] * self.rows
        reasons = [self.reason] * self.rows
        for record, (outcome, reason) in self.marked.items():
            outcomes[record] = outcome.value
            reasons[record] = reason
        sources = chain.from_iterable(
            repeat(source, end - first) for source, first, end in self.lines.source_runs()
        )
        return zip(sources, self.lines.lines, self.keys, outcomes, reasons, repeat(self.index),
                   range(self.rows), strict=False)  # fmt: skip


def _blocks(
    storage: Storage,
    load: Load,
    chunks: Sequence[Chunk],
    manifest: Manifest,
    summary: ResultsSummary,
) -> Iterator[_Block]:
    by_index = {chunk.index: chunk for chunk in chunks}
    written = max([manifest.files, *(c.index + 1 for c in chunks)])
    for index in range(written):
        chunk = by_index.get(index)
        uri = chunk.uri if chunk and chunk.uri else _chunk_uri(load, manifest, index)
        done = chunk is not None and chunk.state == ChunkState.DONE
        files = bool(done and chunk and (chunk.failures_uri or chunk.warnings_uri))
        content = read_chunk(storage, uri, manifest.delimiter, manifest.key_fields,
                             signatures=files)  # fmt: skip
        if chunk is None or not done:
            block = _Block(index, content.lines, content.keys, Outcome.NOT_SENT,
                           _not_sent_reason(load, chunk), {})  # fmt: skip
        else:
            block = _Block(index, content.lines, content.keys, Outcome.PROCESSED, "",
                           _marked(storage, chunk, content, manifest, summary))  # fmt: skip
        marked = Counter(outcome.value for outcome, _ in block.marked.values())
        summary.outcomes[block.outcome.value] += block.rows - sum(marked.values())
        summary.outcomes.update(marked)
        yield block


def _marked(
    storage: Storage,
    chunk: Chunk,
    content: ChunkContent,
    manifest: Manifest,
    summary: ResultsSummary,
) -> dict[int, tuple[Outcome, str]]:
    """The failed and warned records of a done chunk, from its result files."""
    matcher = ChunkMatcher(content.keys, content.signatures, len(content.header))
    found: dict[str, Matched] = {}
    for what, uri in (("failed", chunk.failures_uri), ("warned", chunk.warnings_uri)):
        rows, positions = read_result_file(storage, uri, manifest.delimiter, manifest.key_fields)
        found[what] = matcher.match(rows, positions)
        summary.unmatched_rows += found[what].unmatched
    for what, counted in (("failed", chunk.failed), ("warned", chunk.warnings)):
        if len(found[what].reasons) != counted:
            summary.problems.append(
                f"chunk {chunk.index}: Marketo {what} {counted:,} rows, "
                f"{len(found[what].reasons):,} of them matched to a record of the chunk"
            )
    marked = {record: (Outcome.WARNED, why) for record, why in found["warned"].reasons.items()}
    for record, why in found["failed"].reasons.items():  # (failed wins over warned)
        marked[record] = (Outcome.FAILED, why)
    for outcome, why in marked.values():
        (summary.failure_reasons if outcome == Outcome.FAILED else summary.warning_reasons).add(why)
    return marked


def _chunk_uri(load: Load, manifest: Manifest, index: int) -> str:
    """A file the split wrote but never announced (its source failed after it)."""
    return join_uri(load.staged("chunks"), f"chunk-{index:05d}.{manifest.output_format}")


def _not_sent_reason(load: Load, chunk: Chunk | None) -> str:
    if chunk is None:
        return f"not submitted: the source failed: {load.error or 'the split stopped'}"
    if chunk.state == ChunkState.CANCELLED:
        return "cancelled: the load was cancelled before this chunk was sent"
    if chunk.message or chunk.last_failure:
        return str(chunk.message or chunk.last_failure)
    return "its import job failed" if chunk.batch_id else "not submitted"
