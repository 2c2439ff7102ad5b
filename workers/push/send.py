"""How a batch of queued records leaves: a Data Ingestion request, or a bulk import load.

Each sender groups entries into batches (a batch that is not the last one is
full: the next record would not fit), and sends one batch. The Data Ingestion
sender packs up to 1,000 objects and 1 MB per request with the type's body
around them; a request Marketo refuses (400) fails its records, written to S3
with Marketo's code and message. The bulk sender writes the batch as a CSV
file under the staging prefix and starts a load of it through the ordinary
start (admission, the split, the report all apply); its idempotency key is
the batch's, so a batch repeated after a crash finds the load it started.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from workers.errors import IngestionRefused
from workers.importers.ingestion_rows import pack
from workers.marketo.ingestion import MAX_OBJECTS, IngestionRequest, ingestion_client
from workers.push.queue import Entry
from workers.push.records import as_cells

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo.ingestion import IngestionClient, IngestionShape
    from workers.objects import ObjectSpec
    from workers.pipeline.dispatch import Dispatcher
    from workers.pipeline.runtime import Runtime

logger = logging.getLogger(__name__)

BULK_FULL_SHARE = 0.97  # a bulk batch this close to the file limit is sent without waiting


@dataclass(frozen=True)
class Outcome:
    """What became of a batch: records sent (accepted, or handed to a load) and failed."""

    sent: int
    failed: int
    notes: dict[str, str] = field(default_factory=dict)  # for status: the load, the error


@dataclass(frozen=True)
class QueueContext:
    """What a flush knows about its queue: where it goes and how to reach Marketo and S3."""

    rt: Runtime
    dispatch: Dispatcher
    queue_id: str
    object: str
    parameters: Mapping[str, Any]
    load: LoadRequest

    @property
    def spec(self) -> ObjectSpec[Any]:
        from workers.objects import REGISTRY

        return REGISTRY[self.object]

    @property
    def prefix(self) -> str:
        return f"{self.rt.settings.staging_uri}/push/{self.queue_id}"


class Sender(Protocol):
    api: str

    def groups(self, entries: Sequence[Entry]) -> tuple[list[list[Entry]], bool]:
        """The entries in batches, and whether the last batch is full too."""
        ...

    def send(self, batch_id: str, entries: Sequence[Entry]) -> Outcome: ...


def record_failures(
    ctx: QueueContext, batch_id: str, entries: Sequence[Entry], code: str, message: str
) -> str:
    """Write the batch's records with Marketo's code and message to S3; returns the URI."""
    uri = f"{ctx.prefix}/failures/{batch_id}.jsonl"
    lines = [
        json.dumps(
            {"record": e.record, "pushed_at": e.pushed_at, "error_code": code, "message": message},
            ensure_ascii=False,
        )
        for e in entries
    ]
    ctx.rt.storage.put(uri, [("\n".join(lines) + "\n").encode("utf-8")])
    return uri


class IngestionSender:
    """Batches of at most 1,000 objects and 1 MB, one Data Ingestion request each."""

    api = "ingestion"

    def __init__(self, ctx: QueueContext, shape: IngestionShape) -> None:
        self.ctx = ctx
        self.shape = shape
        self.before, self.after = shape.wrap()
        self._client: IngestionClient | None = None

    @property
    def client(self) -> IngestionClient:
        if self._client is None:
            self._client = ingestion_client(self.ctx.rt.marketo)
        return self._client

    def groups(self, entries: Sequence[Entry]) -> tuple[list[list[Entry]], bool]:
        overhead = len(self.before) + len(self.after)
        items = ((i, e.data) for i, e in enumerate(entries))
        # Records were held to the request's room when pushed: none is left out here.
        batches = [[entries[i] for i in b.lines] for b in pack(items, overhead)]
        return batches, bool(batches) and len(batches[-1]) >= MAX_OBJECTS

    def send(self, batch_id: str, entries: Sequence[Entry]) -> Outcome:
        body = self.before + b",".join(e.data for e in entries) + self.after
        request = IngestionRequest(self.shape.path, body, len(entries))
        try:
            accepted = self.client.send(request, correlation_id=batch_id)
        except IngestionRefused as error:
            uri = record_failures(self.ctx, batch_id, entries, error.code, error.message)
            logger.warning("push queue %s: request refused, %d records failed (%s): %s",
                           self.ctx.queue_id, len(entries), uri, error)  # fmt: skip
            return Outcome(0, len(entries), {"last_error": str(error), "failures_uri": uri})
        notes = {"last_request_id": accepted.request_id or ""}
        return Outcome(len(entries), 0, notes)


class BulkSender:
    """Batches of up to a file's byte limit, each one load through the ordinary pipeline."""

    api = "bulk"

    def __init__(self, ctx: QueueContext) -> None:
        self.ctx = ctx
        self.limit = ctx.rt.settings.chunk_byte_limit

    def groups(self, entries: Sequence[Entry]) -> tuple[list[list[Entry]], bool]:
        batches: list[list[Entry]] = []
        current: list[Entry] = []
        size = 0
        for entry in entries:
            if current and size + len(entry.data) > self.limit:
                batches.append(current)
                current, size = [], 0
            current.append(entry)
            size += len(entry.data)
        if current:
            batches.append(current)
        return batches, size >= self.limit * BULK_FULL_SHARE

    def send(self, batch_id: str, entries: Sequence[Entry]) -> Outcome:
        from workers.pipeline import start

        uri = f"{self.ctx.prefix}/{batch_id}.csv"
        self.ctx.rt.storage.put(uri, [csv_file([e.record for e in entries])])
        payload = {
            "source": uri,
            "object": self.ctx.object,
            **self.ctx.parameters,
            "idempotencyKey": f"push:{batch_id}",
        }
        answer = start.start_load(self.ctx.rt, self.ctx.dispatch, payload)
        logger.info("push queue %s: %d records in load %s (%s)", self.ctx.queue_id,
                    len(entries), answer["load_id"], uri)  # fmt: skip
        return Outcome(len(entries), 0, {"last_load_id": str(answer["load_id"])})


def csv_file(records: Sequence[Mapping[str, Any]]) -> bytes:
    """Records as one CSV file: a header of every field named, an empty cell where absent."""
    header: dict[str, None] = {}
    for record in records:
        header.update(dict.fromkeys(record))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(header), lineterminator="\n", restval="")
    writer.writeheader()
    for record in records:
        writer.writerow(as_cells(record))
    return text.getvalue().encode("utf-8")
