"""Marketo's Data Ingestion API behind the seam: a chunk sent as requests of JSON objects.

``submit`` does the whole job: it reads the chunk file (under 10 MB), turns
each row into an object typed by the describe, packs the objects into
requests of at most 1,000 objects and 1 MB, and sends each one as soon as it
is packed through :class:`~workers.marketo.ingestion.IngestionClient` (its
limits are shared by every worker in Redis). What is known then is final, so the
status is Complete at once and ``status`` answers from Redis without a call.

Each request's outcome is kept in Redis under the job's key as it happens
(accepted with its request id, or refused with Marketo's code and message), so
a submit repeated after a crash sends only the requests not yet answered; the
one that was in flight when the worker died is sent again (an upsert) and
counted. Rows that cannot be sent (a cell not of its type, an object over
1 MB) and the rows of refused requests make up the failures file, in the
shape of Marketo's bulk failure files (the chunk's header plus
``Import Failure Reason``), so collect and the report treat both APIs alike.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Self

from workers import defaults
from workers.errors import IngestionRefused, InputError
from workers.importers.base import Importer, Job, JobStatus, ResultFile, Sending
from workers.importers.ingestion_rows import ObjectBuilder, Rejected, pack
from workers.marketo.imports import ImportState
from workers.marketo.ingestion import (
    IngestionClient,
    IngestionRequest,
    IngestionShape,
    ingestion_client,
)
from workers.objects import REGISTRY
from workers.split.header_check import DELIMITERS
from workers.state import keys as redis_keys
from workers.state.records import Chunk, ChunkState

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo import MarketoClient
    from workers.marketo.imports import ImportTarget
    from workers.marketo.upload import Upload
    from workers.settings import Settings

logger = logging.getLogger(__name__)

FAILURE_COLUMN = "Import Failure Reason"
JOB_TTL_S = 7 * 24 * 3600  # a job's outcomes outlive any retry of its chunk
COMPLETE = "Complete"


class IngestionImporter(Importer):
    """One chunk, several Data Ingestion requests; outcomes kept per request in Redis."""

    name = "ingestion"
    queued_in_marketo = False
    result_file_calls = 0  # the failures file is made from our own record in Redis
    report_note = (
        "rows_processed counts rows Marketo's Data Ingestion API accepted (HTTP 202); what "
        "Marketo then did with each one is reported only on its Observability Data Stream, "
        "looked up by the request ids in each chunk's message. rows_failed counts rows not "
        "sent (not of their field's type, or too big) and rows of requests Marketo refused; "
        "the sending section splits them: rows rejected before sending, rows sent (accepted "
        "or in refused requests) and rows not sent."
    )

    def __init__(
        self,
        marketo: MarketoClient,
        client: IngestionClient | None = None,
    ) -> None:
        self.marketo = marketo
        self.redis = marketo.redis
        self._client = client

    @classmethod
    def from_client(cls, marketo: MarketoClient) -> Self:
        return cls(marketo)

    @classmethod
    def lane(cls, settings: Settings) -> tuple[int, int]:
        return settings.ingestion_chunks_in_flight, defaults.INGESTION_CHUNKS_IN_FLIGHT_MAX

    @classmethod
    def refusal(cls, request: LoadRequest) -> str | None:
        spec = REGISTRY[request.object]
        if spec.ingestion_shape(spec.import_target(request)) is None:
            return f"api: the Data Ingestion API cannot import {request.object}"
        return spec.ingestion_refusal(request)

    @property
    def client(self) -> IngestionClient:
        if self._client is None:
            self._client = ingestion_client(self.marketo)
        return self._client

    def submit(self, target: ImportTarget, upload: Upload) -> JobStatus:
        job_id = _job_id(upload.key or upload.filename)
        key = redis_keys.ingestion_job(job_id)
        shape = _shape_of(target)
        description = REGISTRY[target.kind].describe(self.marketo, target)
        types = {f.name: f.data_type for f in description.fields}
        delimiter = DELIMITERS[target.format]
        header, rows = _read(upload, delimiter)
        by_line = dict(rows)
        rejected: list[Rejected] = []
        before, after = shape.wrap()
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"header": json.dumps(header), "delimiter": delimiter,
                                "rows": len(rows)})  # fmt: skip
        pipe.expire(key, JOB_TTL_S)
        pipe.hkeys(key)
        answered = {_text(name) for name in pipe.execute()[-1]}
        # Each request goes as soon as it is packed: the first leaves after its own
        # 1,000 rows are converted, not the whole chunk's. Packing is deterministic,
        # so a repeat after a crash makes the same requests and skips those answered.
        objects = _objects(rows, ObjectBuilder(header, types, shape.required), rejected)
        batches = pack(objects, len(before) + len(after), rejected=rejected)
        sent = requests = 0
        for number, batch in enumerate(batches):
            requests = number + 1
            field = f"request:{number}"
            if field in answered:
                continue  # answered before a crash or a retry of this chunk
            sent += 1
            request = IngestionRequest(shape.path, batch.body(before, after), len(batch.objects))
            try:
                # A request that may have been taken is repeated by the submit step (which
                # counts it); the repeat skips every request answered so far.
                accepted = self.client.send(request, correlation_id=job_id, retry_maybe_sent=False)
            except IngestionRefused as error:
                reason = f"{error.code}: {error.message}"
                rows_of = [[line, by_line[line]] for line in batch.lines]
                self.redis.hset(key, field, json.dumps({"refused": rows_of, "reason": reason}))
                logger.warning(
                    "ingestion request refused job=%s request=%d objects=%d: %s",
                    job_id,
                    number,
                    len(batch.lines),
                    reason,
                )
                continue
            answer = {"accepted": accepted.objects, "request_id": accepted.request_id}
            self.redis.hset(key, field, json.dumps(answer))
        # Known only now that every row is converted; until then the job is not done.
        self.redis.hset(
            key,
            mapping={
                "requests": requests,
                "rejected": json.dumps([[r.line, r.reason, by_line[r.line]] for r in rejected]),
            },
        )
        return dataclasses.replace(self._status(job_id), calls=sent)

    def status(self, target: ImportTarget, job: Job) -> JobStatus:
        return self._status(job.id)

    def result_file(
        self, target: ImportTarget, job: Job, which: ResultFile, out: IO[bytes]
    ) -> int | None:
        """The failures file (rows not sent, rows of refused requests); there are no warnings.

        What Marketo makes of an accepted object is reported only on its
        Observability Data Stream, so no file here can hold those outcomes.
        """
        if which is not ResultFile.FAILURES:
            return None
        record = self._record(job.id)
        failed = sorted(_failed_rows(record))
        if not failed:
            return None
        text = io.StringIO()
        writer = csv.writer(text, delimiter=record.get("delimiter", ","), lineterminator="\n")
        writer.writerow([*json.loads(record["header"]), FAILURE_COLUMN])
        for _, row, reason in failed:
            writer.writerow([*row, reason])
        data = text.getvalue().encode("utf-8")
        out.write(data)
        return len(data)

    def sending(self, chunks: Sequence[Chunk]) -> Sending:
        """Each chunk's rows by what happened to them, from the jobs' records in Redis.

        A chunk's job is named by its file, so a chunk that failed part way (some
        requests accepted) still counts what was sent; a chunk never sent counts
        every row as not sent.
        """
        totals = Sending()
        for chunk in chunks:
            record = self._record(_job_id(chunk.uri)) if chunk.uri else {}
            accepted = refused = requests_accepted = requests_refused = 0
            for name, value in record.items():
                if name.startswith("request:"):
                    outcome = json.loads(value)
                    accepted += int(outcome.get("accepted", 0))
                    refused += len(outcome.get("refused", []))
                    requests_accepted += "request_id" in outcome
                    requests_refused += "refused" in outcome
            before = len(json.loads(record.get("rejected", "[]")))
            not_sent = chunk.rows - accepted - refused - before
            problems = totals.problems
            if not_sent < 0 or (not_sent and chunk.state == ChunkState.DONE):
                problems += (
                    f"chunk {chunk.index} holds {chunk.rows:,} rows, but {accepted:,} were "
                    f"accepted + {refused:,} in refused requests + {before:,} refused before "
                    "sending",
                )
            totals = Sending(
                totals.rows_accepted + accepted,
                totals.rows_in_refused_requests + refused,
                totals.rows_refused_before_sending + before,
                totals.rows_not_sent + max(not_sent, 0),
                totals.requests_accepted + requests_accepted,
                totals.requests_refused + requests_refused,
                problems,
            )
        return totals

    # -- the job's record ------------------------------------------------
    def _record(self, job_id: str) -> dict[str, str]:
        raw = self.redis.hgetall(redis_keys.ingestion_job(job_id))
        return {_text(k): _text(v) for k, v in raw.items()}

    def _status(self, job_id: str) -> JobStatus:
        record = self._record(job_id)
        if not record:
            raise InputError(f"ingestion job {job_id} is not known (its record expired)")
        accepted = refused = 0
        request_ids: list[str] = []
        for name, value in record.items():
            if not name.startswith("request:"):
                continue
            outcome = json.loads(value)
            accepted += int(outcome.get("accepted", 0))
            refused += len(outcome.get("refused", []))
            if outcome.get("request_id"):
                request_ids.append(str(outcome["request_id"]))
        rejected = len(json.loads(record.get("rejected", "[]")))
        answered = sum(1 for name in record if name.startswith("request:"))
        done = "requests" in record and answered >= int(record["requests"])
        shown = ", ".join(request_ids)
        return JobStatus(
            job_id=job_id,
            state=ImportState.COMPLETE if done else ImportState.IMPORTING,
            raw_status=COMPLETE if done else ImportState.IMPORTING.value,
            records_processed=accepted,
            rows_failed=refused + rejected,
            message=f"{len(request_ids)} requests accepted: {shown or 'none'}",
            request_id=request_ids[0] if request_ids else None,
            calls=0,  # read from our own record, not asked of Marketo
        )


def _shape_of(target: ImportTarget) -> IngestionShape:
    shape = REGISTRY[target.kind].ingestion_shape(target)
    if shape is None:
        raise InputError(f"the Data Ingestion API cannot import {target.kind}")
    return shape


def _job_id(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _read(upload: Upload, delimiter: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    data = upload.open().read()
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter)
    header = next(reader, [])
    return header, [(reader.line_num, row) for row in reader]


def _objects(
    rows: list[tuple[int, list[str]]], builder: ObjectBuilder, rejected: list[Rejected]
) -> Iterator[tuple[int, bytes]]:
    for line, row in rows:
        try:
            yield line, builder.encoded(row)
        except ValueError as error:
            rejected.append(Rejected(line, str(error)))


def _failed_rows(record: dict[str, str]) -> Iterator[tuple[int, list[str], str]]:
    """(chunk line, row, reason) of every row that failed: not sent, or in a refused request."""
    for line, reason, row in json.loads(record.get("rejected", "[]")):
        yield int(line), list(row), str(reason)
    for name, value in record.items():
        if name.startswith("request:"):
            outcome = json.loads(value)
            for line, row in outcome.get("refused", []):
                yield int(line), list(row), str(outcome["reason"])


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
