"""What a bulk import targets (leads, custom objects, program members) and what its status says.

Marketo's three import APIs differ only in paths, parameters and the name of
the "processed" counter; a target object hides those differences so the
pipeline handles one kind of job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from workers.errors import MarketoTransportError
from workers.objects import ObjectType
from workers.objects.custom_objects import CustomObjects
from workers.objects.leads import Leads
from workers.objects.program_members import ProgramMembers

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


def _format(value: str) -> str:
    fmt = value.lower()
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {value!r}")
    return fmt


def _segment(value: object) -> str:
    return quote(str(value), safe="")


@dataclass(frozen=True)
class LeadImport:
    """Leads, with ``lookupField`` (default email; ``id`` means update only), ``listId``
    (a static list to add them to) and ``partitionName``.
    """

    format: str = "csv"
    lookup_field: str | None = None
    list_id: int | None = None
    partition_name: str | None = None
    kind: ImportKind = field(default=ImportKind(Leads.name), init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", _format(self.format))

    def create_path(self) -> str:
        return "/bulk/v1/leads.json"

    def status_path(self, batch_id: int) -> str:
        return f"/bulk/v1/leads/batch/{int(batch_id)}.json"

    def file_path(self, batch_id: int, which: str) -> str:
        return f"/bulk/v1/leads/batch/{int(batch_id)}/{which}.json"

    def params(self) -> dict[str, str]:
        params = {"format": self.format}
        if self.lookup_field:
            params["lookupField"] = self.lookup_field
        if self.list_id is not None:
            params["listId"] = str(int(self.list_id))
        if self.partition_name:
            params["partitionName"] = self.partition_name
        return params


@dataclass(frozen=True)
class CustomObjectImport:
    """Custom objects of the type ``api_name`` (e.g. ``car_c``)."""

    api_name: str
    format: str = "csv"
    kind: ImportKind = field(default=ImportKind(CustomObjects.name), init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", _format(self.format))
        if not self.api_name:
            raise ValueError("api_name is required for a custom object import")

    def create_path(self) -> str:
        return f"/bulk/v1/customobjects/{_segment(self.api_name)}/import.json"

    def status_path(self, batch_id: int) -> str:
        return (
            f"/bulk/v1/customobjects/{_segment(self.api_name)}/import/{int(batch_id)}/status.json"
        )

    def file_path(self, batch_id: int, which: str) -> str:
        name = _segment(self.api_name)
        return f"/bulk/v1/customobjects/{name}/import/{int(batch_id)}/{which}.json"

    def params(self) -> dict[str, str]:
        return {"format": self.format}


@dataclass(frozen=True)
class ProgramMemberImport:
    """Members of program ``program_id``, all given ``program_member_status`` (e.g. "On List")."""

    program_id: int
    program_member_status: str
    format: str = "csv"
    kind: ImportKind = field(default=ImportKind(ProgramMembers.name), init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", _format(self.format))
        if not self.program_member_status:
            raise ValueError("program_member_status is required for a program member import")

    def create_path(self) -> str:
        return f"/bulk/v1/program/{int(self.program_id)}/members/import.json"

    def status_path(self, batch_id: int) -> str:
        return f"/bulk/v1/program/members/import/{int(batch_id)}/status.json"

    def file_path(self, batch_id: int, which: str) -> str:
        return f"/bulk/v1/program/members/import/{int(batch_id)}/{which}.json"

    def params(self) -> dict[str, str]:
        return {"format": self.format, "programMemberStatus": self.program_member_status}


ImportTarget = LeadImport | CustomObjectImport | ProgramMemberImport


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
