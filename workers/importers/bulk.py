"""Marketo's Bulk Import API behind the seam: the Marketo client's bulk calls, unchanged.

Retries, budgets, metrics and the maybe-sent handling stay in the client
(``workers.marketo.bulk``); this module only translates: a batchId is the job
id, and Marketo's status answer becomes a :class:`JobStatus`.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Self

from workers.importers.base import Importer, Job, JobStatus, ResultFile
from workers.objects import REGISTRY

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo import MarketoClient
    from workers.marketo.imports import ImportStatus, ImportTarget
    from workers.marketo.upload import Upload


class BulkImporter(Importer):
    """One bulk import job per chunk: create, poll its batch, download its files."""

    name = "bulk"

    def __init__(self, marketo: MarketoClient) -> None:
        self.marketo = marketo

    @classmethod
    def from_client(cls, marketo: MarketoClient) -> Self:
        return cls(marketo)

    @classmethod
    def refusal(cls, request: LoadRequest) -> str | None:
        if not REGISTRY[request.object].bulk_import:
            return (
                f'api: Marketo has no bulk import of {request.object}; set "api": "ingestion" '
                "to load them through its Data Ingestion API"
            )
        return REGISTRY[request.object].bulk_refusal(request)

    def submit(self, target: ImportTarget, upload: Upload) -> JobStatus:
        # A POST that may have reached Marketo is repeated by the submit step, not
        # the client, so the report counts it and a ghost permit covers its job.
        return _job_status(self.marketo.create_import(target, upload, retry_maybe_sent=False))

    def status(self, target: ImportTarget, job: Job) -> JobStatus:
        return _job_status(self.marketo.import_status(target, int(job.id)))

    def result_file(
        self, target: ImportTarget, job: Job, which: ResultFile, out: IO[bytes]
    ) -> int | None:
        match which:
            case ResultFile.FAILURES:
                return self.marketo.download_failures(target, int(job.id), out)
            case ResultFile.WARNINGS:
                return self.marketo.download_warnings(target, int(job.id), out)


def _job_status(status: ImportStatus) -> JobStatus:
    return JobStatus(
        job_id=str(status.batch_id),
        state=status.state,
        raw_status=status.raw_status,
        records_processed=status.records_processed,
        rows_failed=status.rows_failed,
        rows_with_warning=status.rows_with_warning,
        message=status.message,
        request_id=status.request_id,
    )
