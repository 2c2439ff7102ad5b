"""An in-memory importer for tests of the steps: no HTTP, no sandbox, every call recorded.

Like dramatiq's ``StubBroker``: it keeps the seam's contract (the same
contract tests run it) so a step tested on it behaves as on a real API, and a
test decides what Marketo would say: how many status reads a job takes, which
rows fail or warn (``verdict``), whether every job ends Failed, and which
error the next call raises. It is not in the registry: no load can choose it.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Literal, Self

from workers.errors import MarketoPermanentError
from workers.importers.base import Importer, Job, JobStatus, ResultFile
from workers.marketo.imports import ImportState
from workers.split.header_check import DELIMITERS

if TYPE_CHECKING:
    from workers.marketo import MarketoClient
    from workers.marketo.imports import ImportTarget
    from workers.marketo.upload import Upload

REASON_COLUMNS = {
    ResultFile.FAILURES: "Import Failure Reason",
    ResultFile.WARNINGS: "Import Warning Reason",
}
Method = Literal["submit", "status", "result_file"]


@dataclass(frozen=True)
class RowOutcome:
    """What the stub's Marketo makes of one row: refused (``failure``), imported with a
    ``warning``, or imported (neither)."""

    failure: str | None = None
    warning: str | None = None


ACCEPTED = RowOutcome()
Verdict = Callable[[Mapping[str, str]], RowOutcome]


def accept_every_row(row: Mapping[str, str]) -> RowOutcome:
    return ACCEPTED


@dataclass
class StubJob:
    """One submitted file, its final status and its result files."""

    id: str
    data: bytes
    rows: int
    reads_left: int
    final: JobStatus
    files: dict[ResultFile, bytes] = field(default_factory=dict)


class StubImporter(Importer):
    """Jobs finish after ``reads_to_finish`` status reads (0: already at submit, as a
    request-based API's do); rows are judged by ``verdict``; ``job_failure`` makes every
    job end Failed with that reason, counts 0 and no files, as Marketo does with a file
    it cannot read.
    """

    name = "stub"

    def __init__(
        self,
        *,
        reads_to_finish: int = 1,
        verdict: Verdict = accept_every_row,
        job_failure: str | None = None,
    ) -> None:
        self.reads_to_finish = reads_to_finish
        self.verdict = verdict
        self.job_failure = job_failure
        self.jobs: dict[str, StubJob] = {}
        self.calls: list[tuple[Method, str]] = []  # (method, job id; "" for a submit)
        self._errors: dict[Method, deque[Exception]] = {}

    @classmethod
    def from_client(cls, marketo: MarketoClient) -> Self:
        return cls()

    def raise_next(self, method: Method, error: Exception) -> None:
        """The next call of ``method`` raises ``error`` (queued in order) and does nothing."""
        self._errors.setdefault(method, deque()).append(error)

    def submit(self, target: ImportTarget, upload: Upload) -> JobStatus:
        self._call("submit", "")
        reader = upload.open()
        data = reader.read()
        close = getattr(reader, "close", None)
        if callable(close):
            close()
        job_id = str(len(self.jobs) + 1)
        job = self._judge(job_id, data, DELIMITERS[target.format])
        self.jobs[job_id] = job
        if job.reads_left <= 0:
            return job.final
        return JobStatus(job_id=job_id, state=ImportState.QUEUED, raw_status="Queued")

    def status(self, target: ImportTarget, job: Job) -> JobStatus:
        self._call("status", job.id)
        stored = self._job(job.id)
        if stored.reads_left > 1:
            stored.reads_left -= 1
            return JobStatus(job_id=job.id, state=ImportState.IMPORTING, raw_status="Importing")
        stored.reads_left = 0
        return stored.final

    def result_file(
        self, target: ImportTarget, job: Job, which: ResultFile, out: IO[bytes]
    ) -> int | None:
        self._call("result_file", job.id)
        stored = self._job(job.id)
        data = stored.files.get(which) if stored.reads_left <= 0 else None
        if data is None:
            return None  # none, or not finished yet (Marketo answers 404 then)
        out.write(data)
        return len(data)

    def _call(self, method: Method, job_id: str) -> None:
        self.calls.append((method, job_id))
        errors = self._errors.get(method)
        if errors:
            raise errors.popleft()

    def _job(self, job_id: str) -> StubJob:
        if job_id not in self.jobs:
            raise MarketoPermanentError("1003", f"Import job {job_id} not found")
        return self.jobs[job_id]

    def _judge(self, job_id: str, data: bytes, delimiter: str) -> StubJob:
        records = list(csv.reader(io.StringIO(data.decode(), newline=""), delimiter=delimiter))
        header, rows = (records[0], [row for row in records[1:] if row]) if records else ([], [])
        if self.job_failure is not None or not header:
            final = _failed(job_id, self.job_failure or "no header row")
            return StubJob(job_id, data, len(rows), self.reads_to_finish, final)
        judged: dict[ResultFile, list[list[str]]] = {which: [] for which in ResultFile}
        for row in rows:
            outcome = self.verdict(dict(zip(header, row, strict=False)))
            if outcome.failure is not None:
                judged[ResultFile.FAILURES].append([*row, outcome.failure])
            elif outcome.warning is not None:
                judged[ResultFile.WARNINGS].append([*row, outcome.warning])
        failed, warned = len(judged[ResultFile.FAILURES]), len(judged[ResultFile.WARNINGS])
        final = JobStatus(
            job_id=job_id,
            state=ImportState.COMPLETE,
            raw_status="Complete",
            records_processed=len(rows) - failed,
            rows_failed=failed,
            rows_with_warning=warned,
            message=f"{len(rows) - failed} imported, {failed} failed, {warned} with a warning",
        )
        files = {
            which: _csv([[*header, REASON_COLUMNS[which]], *lines], delimiter)
            for which, lines in judged.items()
            if lines
        }
        return StubJob(job_id, data, len(rows), self.reads_to_finish, final, files)


def _failed(job_id: str, reason: str) -> JobStatus:
    return JobStatus(
        job_id=job_id,
        state=ImportState.FAILED,
        raw_status="Failed",
        message=f"Import failed: {reason}",
    )


def _csv(rows: list[list[str]], delimiter: str) -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return text.getvalue().encode()
