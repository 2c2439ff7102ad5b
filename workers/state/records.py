"""A load's and a chunk's ledger records, read once into typed values.

The ledger keeps each record as a Redis hash of text fields. :func:`parse_load`
and :func:`parse_chunk` turn one into a frozen :class:`Load` or :class:`Chunk`,
whose attributes are named exactly as the hash's fields: states become their
enums, counters ints (0 while never counted), times floats, and a field that is
absent or cleared (``""``) ``None``. Fields this code does not know (a newer or
older writer's) are ignored. A record that cannot be read (a counter that is not
a number, an unknown state, parameters that are not a JSON object, a field every
record has missing) raises :class:`DamagedLedgerRecord` naming every bad field.

Writes stay mappings of field name to value, typed by :class:`LoadFields`,
:class:`LoadCounters` and :class:`ChunkFields`: mypy checks every name written
against these, and a test checks each of them is a field of its record.

Over 300 lines on purpose: a record's fields, the fields steps write and how a
hash is read stay side by side, so a new field is added in this one file.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar

from workers.errors import DamagedLedgerRecord, listing

if TYPE_CHECKING:
    from workers.load_request import LoadRequest


class LoadState(StrEnum):
    PENDING = "pending"
    SPLITTING = "splitting"
    LOADING = "loading"
    SUCCEEDED = "succeeded"
    SUCCEEDED_WITH_ROW_ERRORS = "succeeded_with_row_errors"
    FAILED = "failed"
    # Ran to the end, but rows read, submitted and Marketo's counts do not add up.
    COUNTS_MISMATCH = "counts_mismatch"
    # Cancelled: nothing more is sent; the jobs already in Marketo finish and are collected.
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


TERMINAL_LOAD_STATES = frozenset(
    {
        LoadState.SUCCEEDED,
        LoadState.SUCCEEDED_WITH_ROW_ERRORS,
        LoadState.FAILED,
        LoadState.COUNTS_MISMATCH,
        LoadState.CANCELLED,
    }
)

# A load in one of these states gets no more permits: its line is closed (admission).
CLOSED_LOAD_STATES = (LoadState.CANCELLING, LoadState.CANCELLED)


class ChunkState(StrEnum):
    WAITING = "waiting"  # split and stored, in line for a permit
    SUBMITTING = "submitting"  # holds a permit; the POST may or may not have happened
    SUBMITTED = "submitted"  # Marketo gave a batch id; being polled
    COLLECTING = "collecting"  # terminal in Marketo; failure/warning files being fetched
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"  # taken out of line when its load was cancelled: never sent


TERMINAL_CHUNK_STATES = frozenset({ChunkState.DONE, ChunkState.FAILED, ChunkState.CANCELLED})


def chunk_id(load_id: str, index: int) -> str:
    """How admission and the job list name a chunk: ``<load id>:<index>``."""
    return f"{load_id}:{index}"


@dataclass(frozen=True)
class Load:
    """One load as the ledger holds it (the hash ``keys.load`` names)."""

    load_id: str  # the key's, not a field of the hash
    state: LoadState
    params: Mapping[str, Any]  # the payload as accepted at the door (sorted JSON in Redis)
    created_at: float
    updated_at: float
    staging: str | None = None  # the load's S3 prefix: chunks, rejects, result files, report
    chunks_total: int | None = None  # None until the split is done (-1 in Redis)
    split_at: float | None = None
    finished_at: float | None = None
    # What the split found.
    rows_read: int = 0
    rows_rejected: int = 0
    rows_skipped: int = 0  # blank lines
    # Rows in the chunks handed on to be submitted; those cancelled before they were
    # sent are among them (``rows_sent`` is what Marketo was sent).
    rows_submitted: int = 0
    rows_not_submitted: int = 0  # read but in no chunk sent: the source failed, or the split
    # stopped (a cancel) with rows read for a file not yet in the ledger
    rejects_uri: str | None = None
    split_runs: int = 0
    split_stopped: bool = False  # a cancel stopped the split before the end of the source
    # Rolled up from the chunks as each one ends.
    rows_processed: int = 0
    rows_failed: int = 0
    rows_warned: int = 0
    rows_in_failed_jobs: int = 0
    chunks_done: int = 0
    chunks_failed: int = 0
    jobs_submitted: int = 0
    jobs_retried: int = 0
    too_many_imports: int = 0
    possible_double_submissions: int = 0
    api_calls: int = 0
    # Cancel and resume.
    rows_cancelled: int = 0  # in chunks taken out of line by a cancel: never sent
    chunks_cancelled: int = 0
    cancel_requested_at: float | None = None
    resumes: int = 0  # times resumed (each writes its own report)
    resuming: bool = False  # a resume is putting the chunks back in line
    # Why it failed or waits, and its report.
    error: str | None = None  # the source failed, or the counts do not add up
    unexpected_errors: int = 0  # of its split
    last_error: str | None = None  # the latest unexpected error of any of its steps
    waiting: str | None = None  # why a live load is not moving (the daily quota)
    waiting_reason: str | None = None
    waiting_until: float | None = None
    last_wait: str | None = None
    quota_waits: int = 0
    report_uri: str | None = None
    # The W3C trace context (JSON) of the task that started it, when tracing: its steps join it.
    trace_context: str | None = None
    # Its results file (one row per source row) and its summary (JSON: outcomes, top
    # reasons), or why it could not be written; the load it retries, the load retrying it.
    results_uri: str | None = None
    results_summary: str | None = None
    results_error: str | None = None
    retry_of: str | None = None
    retried_by: str | None = None

    @property
    def rows_sent(self) -> int:
        """Rows sent to Marketo (or being sent): submitted, less those cancelled before."""
        return self.rows_submitted - self.rows_cancelled

    @cached_property
    def request(self) -> LoadRequest:
        """The stored payload as a request, parsed on first use (once per record).

        Accepted at the door, so not checked against a policy again here; the
        split checks it under its worker's policy. Raises pydantic's
        ``ValidationError`` for a payload today's rules refuse.
        """
        from workers.load_request import LoadRequest

        return LoadRequest.model_validate(dict(self.params))

    def staged(self, path: str) -> str:
        """``path`` under the load's staging prefix (a record without one is damaged)."""
        if not self.staging:
            raise DamagedLedgerRecord(f"load {self.load_id!r} in the ledger has no staging prefix")
        return f"{self.staging}/{path}"


@dataclass(frozen=True)
class Chunk:
    """One chunk (a split file and its import job) as the ledger holds it."""

    load_id: str  # the key's, not a field of the hash
    index: int
    state: ChunkState
    created_at: float
    updated_at: float
    # The file, as the split wrote it.
    uri: str | None = None
    bytes: int = 0
    rows: int = 0
    first_source: str | None = None
    first_line: int = 0
    last_source: str | None = None
    last_line: int = 0
    not_submitted: bool = False  # failed before it was ever submitted (the source failed)
    # Its job in Marketo.
    attempts: int = 0  # jobs made for it (a Failed job is retried)
    attempts_before_resume: int = 0  # of those, made before its load's latest resume
    resumed_in: int = 0  # the resume (its number) that last put it back in line
    submissions: int = 0  # POSTs counted; more than attempts means a double submission
    post_started_at: float | None = None  # a POST began and has not been answered yet
    batch_id: str | None = None  # the importer's job id (bulk: Marketo's batchId)
    submitted_at: float | None = None
    poll_token: str | None = None  # only the poll holding the latest token goes on
    status: str | None = None  # Marketo's: Queued, Importing, Complete, Failed
    importing_since: float | None = None
    finished_at: float | None = None
    processed: int = 0
    failed: int = 0
    warnings: int = 0
    message: str | None = None  # Marketo's, or why the chunk failed
    last_failure: str | None = None  # the message of its previous (Failed) job
    failures_uri: str | None = None
    warnings_uri: str | None = None
    unexpected_errors: int = 0
    last_error: str | None = None

    @property
    def chunk_id(self) -> str:
        return chunk_id(self.load_id, self.index)

    def required_uri(self) -> str:
        """The chunk's file (every split chunk has one; a record without it is damaged)."""
        if not self.uri:
            raise DamagedLedgerRecord(f"{self._what} in the ledger has no uri")
        return self.uri

    def required_batch_id(self) -> str:
        """Its job's id (a chunk past submitting has one; else the record is damaged)."""
        if self.batch_id is None:
            raise DamagedLedgerRecord(f"{self._what} in the ledger has no batch_id")
        return self.batch_id

    @property
    def _what(self) -> str:
        return f"chunk {self.index} of load {self.load_id!r}"


class LoadFields(TypedDict, total=False):
    """Fields a step sets on a load (``update_load``, ``set_load_fields``)."""

    staging: str
    chunks_total: int
    split_at: float
    finished_at: float
    rows_read: int
    rows_rejected: int
    rows_skipped: int
    rows_submitted: int
    rows_not_submitted: int
    rejects_uri: str
    split_stopped: int
    cancel_requested_at: float
    error: str
    last_error: str
    waiting: str
    waiting_until: float
    last_wait: str
    report_uri: str
    trace_context: str
    results_uri: str
    results_summary: str
    results_error: str
    retry_of: str
    retried_by: str


class LoadCounters(TypedDict, total=False):
    """Counters added to a load (``add_to_load``, and the roll-ups of ``move_chunk``)."""

    split_runs: int
    rows_processed: int
    rows_failed: int
    rows_warned: int
    rows_in_failed_jobs: int
    chunks_done: int
    chunks_failed: int
    jobs_submitted: int
    jobs_retried: int
    too_many_imports: int
    possible_double_submissions: int
    api_calls: int
    rows_cancelled: int
    chunks_cancelled: int


class ChunkFields(TypedDict, total=False):
    """Fields a step sets on a chunk (``add_chunk``, ``move_chunk``); ``""`` clears one."""

    uri: str
    bytes: int
    rows: int
    first_source: str
    first_line: int
    last_source: str
    last_line: int
    not_submitted: int
    attempts: int
    attempts_before_resume: int
    resumed_in: int
    post_started_at: float | Literal[""]
    batch_id: str
    submitted_at: float
    poll_token: str
    status: str
    importing_since: float | Literal[""]
    finished_at: float
    processed: int
    failed: int
    warnings: int
    message: str
    last_failure: str
    failures_uri: str
    warnings_uri: str


# Reading ---------------------------------------------------------------------

Record = TypeVar("Record", Load, Chunk)


def _json_object(value: str) -> Mapping[str, Any]:
    parsed = json.loads(value)
    if not isinstance(parsed, dict):
        raise ValueError("not an object")
    return parsed


def _flag(value: str) -> bool:
    return bool(int(value))


# How a field's text becomes its type, and what the message calls that type.
_CONVERSIONS: dict[object, tuple[Callable[[str], object], str]] = {
    int: (int, "an integer"),
    int | None: (int, "an integer"),
    float: (float, "a number"),
    float | None: (float, "a number"),
    str | None: (str, "text"),
    bool: (_flag, "0 or 1"),
    Mapping[str, Any]: (_json_object, "a JSON object"),
    LoadState: (LoadState, f"a load state ({', '.join(LoadState)})"),
    ChunkState: (ChunkState, f"a chunk state ({', '.join(ChunkState)})"),
}


Layout = tuple[tuple[str, Callable[[str], object], str, object], ...]


def _layout(cls: type) -> Layout:
    """Each hash field of ``cls``: its name, conversion, type's name and default."""
    hints = typing.get_type_hints(cls)
    layout = []
    for field in dataclasses.fields(cls):
        if field.name == "load_id":
            continue
        convert, kind = _CONVERSIONS[hints[field.name]]
        layout.append((field.name, convert, kind, field.default))
    return tuple(layout)


_LAYOUTS: dict[type, Layout] = {Load: _layout(Load), Chunk: _layout(Chunk)}


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _parse(cls: type[Record], what: str, load_id: str, raw: Mapping[str, str]) -> Record:
    values: dict[str, Any] = {"load_id": load_id}
    problems = []
    for name, convert, kind, default in _LAYOUTS[cls]:
        text = raw.get(name, "")
        if text == "":
            if default is dataclasses.MISSING:
                problems.append(f"{name}: missing")
            else:
                values[name] = default
            continue
        try:
            values[name] = convert(text)
        except ValueError:
            problems.append(f"{name}: {_shown(text)} is not {kind}")
    if problems:
        raise DamagedLedgerRecord(f"{what} in the ledger cannot be read: {listing(problems)}")
    return cls(**values)


def parse_load(load_id: str, raw: Mapping[str, str]) -> Load:
    """A load's hash as a :class:`Load`; :class:`DamagedLedgerRecord` if it cannot be read."""
    load = _parse(Load, f"load {load_id!r}", load_id, raw)
    if load.chunks_total is not None and load.chunks_total < 0:
        load = dataclasses.replace(load, chunks_total=None)
    return load


def parse_chunk(load_id: str, raw: Mapping[str, str]) -> Chunk:
    """A chunk's hash as a :class:`Chunk`; :class:`DamagedLedgerRecord` if it cannot be read."""
    what = f"chunk {raw.get('index', '?')} of load {load_id!r}"
    return _parse(Chunk, what, load_id, raw)
