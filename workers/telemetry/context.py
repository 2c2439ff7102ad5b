"""What a log line is about: the load, chunk and batch being worked on, and the task doing it.

A task that works on a load has it in its log context from start to end:
``install_task_context`` binds the task's ``load_id`` and ``index`` arguments
(as ``load_id`` and ``chunk``) when it starts and drops them when it ends, so
Celery's own lines about the task carry them too. A step adds what it learns on
the way (``bind(batch_id=...)``); code that works on one load outside such a
task wraps it in ``log_context(load_id=...)``.

:class:`ContextFilter` puts the context, Celery's current task id and name, and
the current trace and span ids (when tracing) on every record as attributes:
the JSON format writes them as fields. The context is a ``contextvars``
variable, so it follows a task's code but never leaks into another task.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from workers.telemetry import traces

# The fields a context may hold, in the order they are written.
FIELDS = ("load_id", "chunk", "batch_id")
# A task's arguments that name what it works on, and the field each becomes.
TASK_ARGUMENTS = {"load_id": "load_id", "index": "chunk"}

_NONE: Mapping[str, object] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "mkto_bulk_log_context", default=_NONE
)


def current() -> Mapping[str, object]:
    """The fields in force here (empty outside any task or ``log_context``)."""
    return _context.get()


def _fields(load_id: str | None, chunk: int | None, batch_id: str | None) -> dict[str, object]:
    given = {"load_id": load_id, "chunk": chunk, "batch_id": batch_id}
    return {name: value for name, value in given.items() if value is not None}


@contextmanager
def log_context(
    *, load_id: str | None = None, chunk: int | None = None, batch_id: str | None = None
) -> Iterator[None]:
    """Log lines inside the block carry these fields (added to those already in force)."""
    token = _context.set({**_context.get(), **_fields(load_id, chunk, batch_id)})
    try:
        yield
    finally:
        _context.reset(token)


def bind(
    *, load_id: str | None = None, chunk: int | None = None, batch_id: str | None = None
) -> None:
    """Add fields until the enclosing ``log_context`` or task ends (a step's batch id).

    Outside both (a step run directly, as tests do) there is nothing to end: no-op.
    """
    here = _context.get()
    if here is not _NONE:
        _context.set({**here, **_fields(load_id, chunk, batch_id)})


class ContextFilter(logging.Filter):
    """Adds the log context, the Celery task and the trace to each record (never drops one).

    A field the call gave itself (``extra=``) is kept as given.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        task_id, task_name = _task_of(record)
        if task_id and not hasattr(record, "task_id"):
            record.task_id = task_id
            record.task_name = task_name
        ids = traces.current_ids()
        if ids is not None and not hasattr(record, "trace_id"):
            record.trace_id, record.span_id = ids
        return True


def _task_of(record: logging.LogRecord) -> tuple[str | None, str | None]:
    """The task running in this process, or the one Celery's own line is about."""
    from celery._state import get_current_task

    task = get_current_task()
    if task is not None and task.request.id:
        return str(task.request.id), str(task.name)
    # The worker's main process logs "Task ... received" with the task in ``data``.
    data = getattr(record, "data", None)
    if isinstance(data, Mapping) and data.get("id"):
        return str(data["id"]), str(data.get("name") or "")
    return None, None


# Tasks ---------------------------------------------------------------------

_parameters: dict[str, tuple[str, ...]] = {}
_tokens: dict[str, contextvars.Token[Mapping[str, object]]] = {}


def task_fields(task: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, object]:
    """The fields a task's arguments give: its ``load_id`` and ``index`` (as ``chunk``)."""
    names = _parameters.get(task.name)
    if names is None:
        try:
            names = tuple(inspect.signature(task.run).parameters)
        except (TypeError, ValueError):
            names = ()
        _parameters[task.name] = names
    bound = {**dict(zip(names, args, strict=False)), **kwargs}
    fields: dict[str, object] = {}
    for argument, field in TASK_ARGUMENTS.items():
        value = bound.get(argument)
        if isinstance(value, str | int) and not isinstance(value, bool):
            fields[field] = value
    return fields


def _task_started(task_id: str | None = None, task: Any = None, **signal: Any) -> None:
    if task_id is None or task is None:
        return
    fields = task_fields(task, tuple(signal.get("args") or ()), signal.get("kwargs") or {})
    _tokens[task_id] = _context.set(fields)
    _annotate_span()


def _task_ended(task_id: str | None = None, **_: Any) -> None:
    token = _tokens.pop(task_id or "", None)
    if token is None:
        return
    _annotate_span()
    try:
        _context.reset(token)
    except ValueError:  # set in another context (a pool that hops threads): start clean
        _context.set(_NONE)


def _annotate_span() -> None:
    """The task's span (open at start or at end, whichever signal runs inside it) says what
    the task worked on, so a load's spans can be found by its id."""
    traces.annotate({f"mkto_bulk.{name}": value for name, value in current().items()})


def install_task_context() -> None:
    """Bind each task's load and chunk while it runs (Celery's prerun and postrun signals)."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, weak=False, dispatch_uid="mkto_bulk.log_context")
    task_postrun.connect(_task_ended, weak=False, dispatch_uid="mkto_bulk.log_context")
