"""What a bulk import targets and what its status says.

Marketo's import APIs differ only in paths, parameters and the name of the
"processed" counter; a target (one per object type, defined in its spec
module under ``workers/objects/``) hides those differences so the pipeline
handles one kind of job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from workers.errors import MarketoTransportError
from workers.objects import ObjectType

FORMATS = ("csv", "tsv", "ssv")

# What a job imports: the object type of the load (one name per type, in its spec).
ImportKind = ObjectType


class ImportState(StrEnum):
    """A job's state; Marketo's queue is FIFO: Queued, then Importing, then one of the ends."""

    QUEUED = "Queued"
    IMPORTING = "Importing"
    COMPLETE = "Complete"
    FAILED = "Failed"
    UNKNOWN = "Unknown"  # a state Marketo added after this code was written

    @property
    def finished(self) -> bool:
        return self in (ImportState.COMPLETE, ImportState.FAILED)


def checked_format(value: str) -> str:
    """The file format Marketo is told (lower case); ValueError for one it does not take."""
    fmt = value.lower()
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {value!r}")
    return fmt


class ImportTarget(Protocol):
    """What one bulk import goes into: its paths and parameters.

    Each object type's spec module defines its own (a ``workers.objects.base.Target``
    dataclass); the client and the pipeline see only this.
    """

    @property
    def kind(self) -> ImportKind: ...

    @property
    def format(self) -> str: ...

    def create_path(self) -> str:
        """Where a file is posted to start a job."""
        ...

    def status_path(self, batch_id: int) -> str:
        """Where the job's status is read."""
        ...

    def file_path(self, batch_id: int, which: str) -> str:
        """Where the job's ``failures`` or ``warnings`` file is read."""
        ...

    def params(self) -> dict[str, str]:
        """The form fields sent with the file (``format`` and the type's own)."""
        ...


@dataclass(frozen=True)
class ImportStatus:
    """One answer about one job: its state, Marketo's counts and message, and when we saw it.

    ``records_processed`` is ``numOfLeadsProcessed`` or ``numOfObjectsProcessed``.
    ``import_time`` is Marketo's own timing where it reports one (custom objects);
    ``observed_at`` (epoch seconds) and ``call_s`` are ours.
    """

    kind: ImportKind
    batch_id: int
    state: ImportState
    raw_status: str
    import_id: str | None
    records_processed: int
    rows_failed: int
    rows_with_warning: int
    message: str | None
    import_time: str | None
    object_api_name: str | None
    operation: str | None
    request_id: str | None
    observed_at: float
    call_s: float
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state.finished


def parse_status(
    kind: ImportKind,
    result: list[Any],
    request_id: str | None,
    *,
    observed_at: float,
    call_s: float,
    path: str,
) -> ImportStatus:
    """Turn the first ``result`` item of a create or status answer into an ImportStatus."""
    if not result or not isinstance(result[0], Mapping) or "batchId" not in result[0]:
        raise MarketoTransportError(
            "invalid-response", f"{path}: answer has no batchId", request_id, maybe_sent=True
        )
    item: Mapping[str, Any] = result[0]
    raw_status = str(item.get("status", ""))
    try:
        state = ImportState(raw_status)
    except ValueError:
        state = ImportState.UNKNOWN
    processed = item.get("numOfLeadsProcessed", item.get("numOfObjectsProcessed"))
    import_id = item.get("importId")
    return ImportStatus(
        kind=kind,
        batch_id=int(item["batchId"]),
        state=state,
        raw_status=raw_status,
        import_id=str(import_id) if import_id is not None else None,
        records_processed=_int(processed),
        rows_failed=_int(item.get("numOfRowsFailed")),
        rows_with_warning=_int(item.get("numOfRowsWithWarning")),
        message=str(item["message"]) if item.get("message") is not None else None,
        import_time=str(item["importTime"]) if item.get("importTime") is not None else None,
        object_api_name=item.get("objectApiName"),
        operation=item.get("operation"),
        request_id=request_id,
        observed_at=observed_at,
        call_s=call_s,
        raw=dict(item),
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
