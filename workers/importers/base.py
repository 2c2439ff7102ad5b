"""What every import API behind the pipeline offers: submit a chunk, read its status, fetch files.

The steps (submit, poll, collect) talk to an :class:`Importer` and never to an
API's own calls, the way a broker or a transport is a seam elsewhere: one
submit per chunk file, then status reads until the job is finished, then its
result files. The shape is bulk import's, because that API needs all three
calls; a request-based API such as Marketo's Data Ingestion API (202 with an
``X-Request-Id``, no batch id to poll, no failure files) fills the same three
methods trivially, as each method's docstring says, so the steps do not
change when a load picks another API.

Errors are the project's tree (``workers.errors``), mapped by the importer at
its boundary; the steps decide what each means for the chunk.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, TYPE_CHECKING, ClassVar, Self

from workers.marketo.imports import ImportState
from workers.settings import MARKETO_MAX_OUTSTANDING_JOBS

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo import MarketoClient
    from workers.marketo.imports import ImportTarget
    from workers.marketo.upload import Upload
    from workers.settings import Settings
    from workers.state.records import Chunk


class ResultFile(StrEnum):
    """The row-level files an import may leave: rows refused, rows imported with a warning."""

    FAILURES = "failures"
    WARNINGS = "warnings"


@dataclass(frozen=True)
class Job:
    """What the pipeline keeps of a submitted chunk and hands back to the importer.

    ``id`` is whatever the importer's submit returned as ``job_id`` (the ledger
    stores it as the chunk's ``batch_id``); ``rows`` is the chunk's record
    count, so an importer that keeps no state of its own (a request-based API
    has nothing to poll) can still answer with counts.
    """

    id: str
    rows: int


@dataclass(frozen=True)
class JobStatus:
    """One answer about one job, in the terms the steps record for every API.

    ``job_id`` is opaque to the steps: bulk's batchId, or a request id.
    ``raw_status`` is the API's own word for ``state`` (what the ledger and
    operators see); an API without one uses the state's value.
    ``records_processed`` excludes failed rows; processed + failed is the
    chunk's rows once the job is Complete.
    """

    job_id: str
    state: ImportState
    raw_status: str
    records_processed: int = 0
    rows_failed: int = 0
    rows_with_warning: int = 0
    message: str | None = None
    request_id: str | None = None
    calls: int = 1  # API calls the answer took (a request-based submit: one per request)

    @property
    def finished(self) -> bool:
        return self.state.finished


class Importer(ABC):
    """One import API. Build one per worker process; methods may be called from any step.

    ``name`` is the importer's key in the registry (``workers.importers.IMPORTERS``),
    and will be what a load's payload names to choose it.
    """

    name: ClassVar[str]
    # Whether a job waits in Marketo's import queue (its duration then teaches the steps
    # how fast Marketo imports, for poll timing); a request-based API's does not.
    queued_in_marketo: ClassVar[bool] = True
    # Marketo calls one result file costs (an API that keeps the rows itself: none).
    result_file_calls: ClassVar[int] = 1
    # Said in the load report when this API's counts are not Marketo's row outcomes.
    report_note: ClassVar[str | None] = None

    @classmethod
    def lane(cls, settings: Settings) -> tuple[int, int]:
        """(chunks in flight at once, the most that may be set) in this API's admission lane.

        Each API has its own line of chunks per instance: a bulk import holds one
        of Marketo's 10 job slots; another API is limited by its own budgets.
        """
        return settings.max_outstanding_jobs, MARKETO_MAX_OUTSTANDING_JOBS

    @classmethod
    def refusal(cls, request: LoadRequest) -> str | None:
        """Why this API cannot take ``request`` (checked when the payload is validated)."""
        return None

    @classmethod
    @abstractmethod
    def from_client(cls, marketo: MarketoClient) -> Self:
        """The importer over this process's Marketo client (its auth, budgets and metrics)."""

    @abstractmethod
    def submit(self, target: ImportTarget, upload: Upload) -> JobStatus:
        """Send one chunk file; the returned status carries the ``job_id`` to poll.

        A request that may have reached Marketo is never repeated here: it raises
        ``MarketoTransportError`` with ``maybe_sent``, and the submit step repeats
        it, counting a possible double submission. A full import queue raises
        ``TooManyImports`` at once (admission owns that wait); a used-up daily
        quota ``DailyQuotaExhausted``; a refusal ``PermanentError``.

        Bulk: one multipart POST, first status Queued or Importing. A
        request-based API sends the file as one or more requests (Data
        Ingestion: at most 1,000 records and 1 MB each) and returns a status that
        is already finished, with its request id as ``job_id``.
        """

    @abstractmethod
    def status(self, target: ImportTarget, job: Job) -> JobStatus:
        """The job's current state and counts; the poll step calls it until ``finished``.

        An API that can tell a job it no longer knows (bulk: an expired batch id)
        raises ``PermanentError``. Bulk asks Marketo (one call). A request-based
        API has nothing to ask (Data Ingestion reports outcomes only on Marketo's
        observability stream) and answers at once, without a call: Complete,
        every one of ``job.rows`` processed.
        """

    @abstractmethod
    def result_file(
        self, target: ImportTarget, job: Job, which: ResultFile, out: IO[bytes]
    ) -> int | None:
        """Stream the finished job's failure or warning file into ``out``.

        Returns the bytes written, or None when the job has no such file. The
        collect step asks only when the status counted such rows, so an API that
        never produces files (Data Ingestion) returns None and is rarely asked.
        """

    def sending(self, chunks: Sequence[Chunk]) -> Sending | None:
        """What this API did with the chunks' rows, when Marketo's counts do not say it.

        None (bulk): a job's counts are Marketo's own for every row of its file.
        """
        return None


@dataclass(frozen=True)
class Sending:
    """A request-based API's account of the rows it was given (the report's ``sending``).

    Every row of a chunk was sent (accepted, or in a request Marketo refused),
    refused before sending (not of its field's type, too big, no key), or not
    sent at all (its chunk failed first); the report checks the three add up
    to the chunks' rows.
    """

    rows_accepted: int = 0
    rows_in_refused_requests: int = 0
    rows_refused_before_sending: int = 0
    rows_not_sent: int = 0
    requests_accepted: int = 0
    requests_refused: int = 0
    # Chunks whose rows and outcomes disagree (more outcomes than rows, or a finished
    # chunk with rows unaccounted for): the load ends counts_mismatch naming them.
    problems: tuple[str, ...] = ()

    @property
    def rows_sent(self) -> int:
        return self.rows_accepted + self.rows_in_refused_requests
