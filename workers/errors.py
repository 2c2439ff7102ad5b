"""The one error hierarchy: transient errors are retried, permanent ones fail loudly.

Marketo's codes are mapped to these classes at the HTTP boundary
(``marketo_error``); nothing above the client inspects raw codes. No error
message ever carries a secret: callers pass identifiers, never credentials.

The tree (a class under two parents is drawn under the one that decides retrying;
the other is given in brackets)::

    MktoBulkError
    +-- TransientError
    |    +-- MarketoTransientError [MarketoError]
    |    |    +-- TokenInvalid
    |    |    +-- TooManyImports
    |    |    +-- RateLimited
    |    |    +-- MarketoTransportError
    |    |    +-- BudgetTimeout
    |    +-- DailyQuotaExhausted [MarketoError]
    |    +-- StorageUnavailable
    |    +-- RedisUnavailable
    |    +-- StepBusy
    |    +-- LoadWaitTimeout
    +-- PermanentError
    |    +-- SettingsError
    |    |    +-- ScheduleFileError
    |    |    +-- EntryError [ValueError]
    |    |    +-- CronError [ValueError]
    |    +-- InputError
    |    |    +-- IdempotencyConflict
    |    |    +-- SyncKeyBusy
    |    |    +-- SourceNotFound
    |    |    +-- HeaderError
    |    |    +-- OptionError
    |    |    +-- ParameterError
    |    |    +-- TooManyRejects
    |    +-- MarketoPermanentError [MarketoError]
    |    |    +-- MarketoAuthError
    |    |    +-- IngestionRefused
    |    |    +-- IngestionNotEntitled
    |    +-- UnexpectedStepError
    |    +-- LoadNotFound
    |    +-- LoadControlRefused
    |    +-- LedgerError [RuntimeError]
    +-- MarketoError (never raised itself: always transient or permanent)
    +-- LeaseLost (neither: the holder stops and the new owner goes on)
    +-- DamagedLedgerRecord [ValueError] (neither: an unexpected error, retried)

The module is over 300 lines on purpose: every error is defined here, so the tree
above is the whole of it.
"""

from __future__ import annotations

from collections.abc import Sequence

# Error texts end up in Redis, load reports and log lines: none may grow with the input.
MAX_MESSAGE_CHARS = 4_000
MAX_LISTED = 10  # offenders named in a list of problems; the rest are counted
MAX_PROBLEM_CHARS = 300  # one problem (it may quote a column name of any length)


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    note = f" ... [cut: {len(text):,} characters in all]"
    return text[: max(limit - len(note), 0)] + note


def listing(items: Sequence[str], separator: str = "; ", shown: int = MAX_LISTED) -> str:
    """The first ``shown`` items joined, then how many more there are."""
    text = separator.join(bounded(item, MAX_PROBLEM_CHARS) for item in items[:shown])
    if len(items) > shown:
        text += f"{separator}... and {len(items) - shown:,} more"
    return text


class MktoBulkError(Exception):
    """Base of every error this system raises on purpose; its text is always bounded."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(bounded(a) if isinstance(a, str) else a for a in args))


class TransientError(MktoBulkError):
    """Worth retrying later: the same call may succeed."""


class PermanentError(MktoBulkError):
    """Retrying the same call cannot help; a person or the input must change."""


class SettingsError(PermanentError):
    """The environment does not describe a usable configuration."""


class InputError(PermanentError):
    """The user's dataset or request is unusable; says where and why."""

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = bounded(reason)  # the message is cut from the whole text, below
        self.source = source
        self.line = line
        self.field = field
        where = ", ".join(
            part
            for part in (
                source,
                f"line {line}" if line is not None else None,
                f"field {field!r}" if field is not None else None,
            )
            if part
        )
        super().__init__(f"{where}: {reason}" if where else reason)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only attributes (source, problems, option) must survive pickling.
        return (_rebuild_input_error, (type(self), self.args, dict(self.__dict__)))


def _rebuild_input_error(
    cls: type[InputError], args: tuple[object, ...], state: dict[str, object]
) -> InputError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class IdempotencyConflict(InputError):
    """An idempotency key already names a load started with a different payload."""


class SyncKeyBusy(InputError):
    """Another load of the same sync key (same instance and object) has not ended."""


class MarketoError(MktoBulkError):
    """An error reported by Marketo (or its transport), with Marketo's own words.

    ``code`` is Marketo's code ("606"), an HTTP status ("503", "413") or one of
    our transport codes ("timeout", "connection"); ``message`` never holds a
    credential or token because nothing that builds one ever sees them.
    """

    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        suffix = f" (requestId {request_id})" if request_id else ""
        super().__init__(f"Marketo {code}: {message}{suffix}")

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only attributes (resets_at, maybe_sent) must survive pickling.
        return (_rebuild_marketo_error, (type(self), dict(self.__dict__)))


def _rebuild_marketo_error(cls: type[MarketoError], state: dict[str, object]) -> MarketoError:
    error = cls.__new__(cls)
    request_id = state.get("request_id")
    MarketoError.__init__(
        error, str(state["code"]), str(state["message"]), str(request_id) if request_id else None
    )
    error.__dict__.update(state)
    return error


class MarketoTransientError(MarketoError, TransientError):
    """Rate limits, busy queues, timeouts, 5xx: back off and repeat."""


class MarketoPermanentError(MarketoError, PermanentError):
    """Marketo refused the request for a reason retrying cannot fix."""


class MarketoAuthError(MarketoPermanentError):
    """The identity endpoint rejected our client credentials (the message names the client id)."""


class TokenInvalid(MarketoTransientError):
    """601/602: the access token is unknown or expired; refresh once and repeat."""


class DailyQuotaExhausted(MarketoError, TransientError):
    """607, or our own reserve reached: stop calling until the Marketo day resets."""

    def __init__(
        self, code: str, message: str, request_id: str | None = None, *, resets_at: float = 0.0
    ) -> None:
        super().__init__(code, message, request_id)
        self.resets_at = resets_at


class TooManyImports(MarketoTransientError):
    """1016: Marketo's import queue is full (possibly by another integration)."""


class RateLimited(MarketoTransientError):
    """606: the instance's calls-per-window limit was hit; every worker holds off."""


class MarketoTransportError(MarketoTransientError):
    """No usable answer: timeout, dropped connection, 5xx.

    ``maybe_sent`` tells whether Marketo may have acted on the request anyway
    (a read timeout or a connection dropped after sending), which matters for
    a job-create POST: repeating it may submit the same file twice.
    """

    def __init__(
        self, code: str, message: str, request_id: str | None = None, *, maybe_sent: bool = True
    ) -> None:
        super().__init__(code, message, request_id)
        self.maybe_sent = maybe_sent


class IngestionRefused(MarketoPermanentError):
    """Data Ingestion 400 (4000801 bad request, 4000802 invalid data): this request's objects
    fail with Marketo's message; the other requests of the load go on."""


class IngestionNotEntitled(MarketoPermanentError):
    """Data Ingestion 403 4030801: the instance lacks the entitlement (Performance Tier)."""


class BudgetTimeout(MarketoTransientError):
    """No call slot (rate, concurrency, hold-off) became free in time; try again later."""


# Codes documented as "retry later" in Marketo's error-code reference.
TRANSIENT_CODES = frozenset({"502", "604", "606", "608", "611", "615", "713", "1016", "1029"})
TOKEN_CODES = frozenset({"601", "602"})


def marketo_error(code: str, message: str, request_id: str | None = None) -> MarketoError:
    """Map one of Marketo's error codes (or an HTTP status) to the right class."""
    code = str(code)
    if code in TOKEN_CODES:
        return TokenInvalid(code, message, request_id)
    if code == "607":
        return DailyQuotaExhausted(code, message, request_id)
    if code == "1016":
        return TooManyImports(code, message, request_id)
    if code == "606":
        return RateLimited(code, message, request_id)
    if code in TRANSIENT_CODES or (code.isdigit() and 500 <= int(code) < 600):
        return MarketoTransientError(code, message, request_id)
    return MarketoPermanentError(code, message, request_id)


# --- Datasets and object storage (splitter, storage layer) ---


class SourceNotFound(InputError):
    """The object, prefix or bucket named as a source does not exist."""


class HeaderError(InputError):
    """The header cannot be loaded as is; ``problems`` lists the offending columns.

    ``problems`` holds at most ``MAX_LISTED`` entries (then one "... and N more").
    """

    def __init__(self, reason: str, *, source: str | None = None, problems: list[str]) -> None:
        super().__init__(reason, source=source)
        shown = [bounded(problem, MAX_PROBLEM_CHARS) for problem in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            shown.append(f"... and {len(problems) - MAX_LISTED:,} more")
        self.problems = shown


class OptionError(InputError):
    """A request option does not fit the data (``option`` names it, e.g. ``limit``)."""

    def __init__(self, reason: str, *, option: str, source: str | None = None) -> None:
        super().__init__(reason, source=source)
        self.option = option


class ParameterError(InputError):
    """A load parameter names what Marketo does not have: ``<parameter> <value>: <reason>``."""

    def __init__(self, parameter: str, value: str, reason: str) -> None:
        super().__init__(f"{parameter} {value}: {reason}")
        self.field = self.parameter = parameter
        self.value = value
        self.explanation = reason

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.parameter, self.value, self.explanation))


class TooManyRejects(InputError):
    """More records were rejected than the configured threshold allows."""


class UnexpectedStepError(PermanentError):
    """A step kept failing with an error that is neither transient nor an outage (a bug)."""


class StorageUnavailable(TransientError):
    """The object store did not answer usefully after our retries."""


# --- Infrastructure (Redis, the broker) ---


class RedisUnavailable(TransientError):
    """Redis (broker and state) did not answer: restarting, loading its data, or out of reach."""


class StepBusy(TransientError):
    """Another attempt holds this step's lock (alive, or killed and not yet expired): try later.

    Retrying rather than returning matters after an outage: the attempt that died
    with Redis could not release its lock, and nothing else would retry the step
    before the lock expired and the reconciler swept.
    """


# --- Loads, the ledger and the schedule ---


class LedgerError(PermanentError, RuntimeError):
    """The ledger was asked about a load or chunk it does not have."""


class DamagedLedgerRecord(MktoBulkError, ValueError):
    """A load or chunk record in Redis cannot be read: a counter that is not a number, an
    unknown state, parameters that are not JSON. Nothing we wrote looks like this, so it is
    neither transient nor the input's fault: a step treats it as an unexpected error (tried
    ``UNEXPECTED_ERROR_ATTEMPTS`` times, then failed with this text naming every bad field).
    """


class LoadNotFound(PermanentError):
    """The ledger has no such load (a wrong id, or no worker has picked up its start yet)."""


class LoadControlRefused(PermanentError):
    """A cancel or resume that does not apply to the load in its state (a load that ended
    cannot be cancelled; one that succeeded cannot be resumed); the message says why."""


class LoadWaitTimeout(TransientError):
    """A load did not finish within the time the caller was ready to wait; it goes on."""


class ScheduleFileError(SettingsError):
    """The schedule file cannot be used; the message names the file, the entry and the field."""


class EntryError(SettingsError, ValueError):
    """One field of one schedule entry is wrong (the file's name is added by the caller)."""


class CronError(SettingsError, ValueError):
    """A cron expression or time zone that cannot be used; the message says which part."""


# --- Leases ---


class LeaseLost(MktoBulkError):
    """A lease ran out and another process took it: the holder stops, the new owner goes on."""
