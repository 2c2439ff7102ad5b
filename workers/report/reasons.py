"""The top reasons rows failed: counted from the failure files collect put in S3.

Marketo's failure file is the chunk's rows in the job's format with one more
column, ``Import Failure Reason``; the rejects file (rows the split did not
submit) has a ``reason`` column. Reads are bounded: the first
``FILE_BYTES`` of each file, at most ``MAX_FILES`` files, one ranged GET each, so
a load with a thousand failure files costs the report at most a few seconds.
When a bound was reached the result says so (``partial``) and how many rows
and files were counted, and the ledger's counts stay the totals.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from workers.split.header_check import DELIMITERS
from workers.state.records import Chunk, Load
from workers.storage import Storage

logger = logging.getLogger(__name__)

FILE_BYTES = 256 * 1024  # read of each failure file (thousands of rows)
MAX_FILES = 50  # failure files read per report (the rejects file is one more)
TOP = 10  # reasons shown
REASON_CHARS = 500  # a longer reason is cut (and counted by its start)
MARKETO = "Marketo"
SPLIT = "split (not submitted)"
_REASON_COLUMNS = ("import failure reason", "reason")


@dataclass(frozen=True)
class ReasonCount:
    origin: str  # MARKETO, or SPLIT for the rejects file
    reason: str
    rows: int


@dataclass(frozen=True)
class Reasons:
    top: tuple[ReasonCount, ...]
    rows_counted: int
    files_read: int
    files_total: int
    partial: bool  # a file was read only in part, or files were left unread
    unreadable: tuple[str, ...] = ()  # files that could not be read, and why


def _reason_column(header: Sequence[str]) -> int:
    names = [h.strip().lower() for h in header]
    for wanted in _REASON_COLUMNS:
        if wanted in names:
            return names.index(wanted)
    return len(header) - 1


def count_file(data: bytes, delimiter: str, complete: bool) -> Counter[str]:
    """Reasons in a failure file's text; an incomplete read drops its last, cut record."""
    text = data.decode("utf-8", errors="replace")
    if not complete:
        text = text[: text.rfind("\n") + 1]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    counts: Counter[str] = Counter()
    if not header:
        return counts
    column = _reason_column(header)
    records = list(reader)
    if not complete and records:
        records.pop()  # may be a record cut inside a quoted field
    for record in records:
        if record:
            counts[record[column].strip()[:REASON_CHARS] if column < len(record) else ""] += 1
    return counts


def count_reasons(
    storage: Storage,
    load: Load,
    chunks: Sequence[Chunk],
    *,
    max_files: int = MAX_FILES,
    file_bytes: int = FILE_BYTES,
) -> Reasons:
    """The most frequent failure reasons of a load, within the read bounds."""
    delimiter = DELIMITERS.get(str(load.params.get("format") or "csv"), ",")
    files = [(MARKETO, c.failures_uri, delimiter) for c in chunks if c.failures_uri]
    wanted = files[:max_files]
    if load.rejects_uri and load.rows_rejected:
        wanted.append((SPLIT, load.rejects_uri, ","))
    counts: Counter[tuple[str, str]] = Counter()
    partial = len(files) > max_files
    unreadable: list[str] = []
    read = 0
    for origin, uri, sep in wanted:
        assert uri is not None
        try:
            data, size = storage.read_head(uri, file_bytes)
        except Exception as error:  # S3 unavailable, the file gone: the report goes on
            why = f"{type(error).__name__}: {error}"[:300]
            unreadable.append(f"{uri}: {why}")
            logger.warning("report: cannot read %s: %s", uri, why)
            continue
        read += 1
        complete = len(data) >= size
        partial = partial or not complete
        for reason, rows in count_file(data, sep, complete).items():
            counts[(origin, reason)] += rows
    top = tuple(ReasonCount(o, r, n) for (o, r), n in counts.most_common(TOP))
    return Reasons(
        top=top,
        rows_counted=sum(counts.values()),
        files_read=read,
        files_total=len(files) + (1 if load.rejects_uri and load.rows_rejected else 0),
        partial=partial or bool(unreadable),
        unreadable=tuple(unreadable),
    )
