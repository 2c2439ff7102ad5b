"""Optional OpenTelemetry traces: every step of a load in the one trace its ETL started.

Off unless ``OTEL_TRACES_EXPORTER=otlp`` (and the ``otel`` extra is installed:
``pip install 'mkto-bulk[otel]'``). Then each worker process (Celery's
``worker_process_init``) and beat (``beat_init``) get a tracer provider that
exports over OTLP/HTTP, configured by the standard ``OTEL_*`` variables
(endpoint, headers, service name, sampler, batching); a provider already set up
by ``opentelemetry-instrument`` is used as it is. opentelemetry-instrumentation-celery
makes a span per task run and per message sent and carries the W3C
``traceparent`` in the message headers; opentelemetry-instrumentation-botocore
makes a span per S3 call; each HTTP request to Marketo is a span made at the
transport seam (:func:`span`) with its method, URL without the query and status:
never a header, a body or a token.

A load's trace context is stored in its ledger record when the load starts
(:func:`carrier`), and a message about a load is sent from inside the load's
trace (:func:`in_load_trace`): steps that the pump, the reconciler or another
load's poll start for it are in its trace too.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from workers.errors import MktoBulkError, SettingsError

if TYPE_CHECKING:
    from workers.settings import Settings

logger = logging.getLogger(__name__)

SERVICE_NAME = "mkto-bulk"  # unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) says
TRACER_NAME = "mkto_bulk"
# The modules the otel extra brings.
REQUIRED_MODULES = (
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.instrumentation.celery",
    "opentelemetry.instrumentation.botocore",
)
REJOIN_SPAN = "rejoin load"  # a message about a load, sent from outside its trace
LOAD_TRACES_CACHED = 4096  # loads whose stored trace context a process remembers

_tracer: Any = None
_provider: Any = None
_pid = 0
_load_traces: OrderedDict[str, str | None] = OrderedDict()


class SpanLike(Protocol):
    def set_attribute(self, key: str, value: str | int | float | bool) -> Any: ...

    def set_status(self, status: Any, description: str | None = None) -> Any: ...


class _NotRecording:
    def set_attribute(self, key: str, value: str | int | float | bool) -> None:
        return None

    def set_status(self, status: Any, description: str | None = None) -> None:
        return None


_NOT_RECORDING = _NotRecording()


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def check(settings: Settings) -> None:
    """At start: an exporter is asked for, but the otel extra is not installed."""
    from workers.settings import TracesExporter

    if settings.otel_traces_exporter is TracesExporter.NONE:
        return
    missing = [module for module in REQUIRED_MODULES if not _installed(module)]
    if missing:
        raise SettingsError(
            f"invalid settings: OTEL_TRACES_EXPORTER={settings.otel_traces_exporter.value} needs "
            f"OpenTelemetry ({', '.join(missing)} not installed): pip install 'mkto-bulk[otel]'"
        )


def enabled() -> bool:
    """This process traces (set up in it, not inherited across a fork)."""
    return _tracer is not None and _pid == os.getpid()


def setup(settings: Settings, role: str) -> None:
    """Trace this process (a worker's pool process, or beat); idempotent."""
    global _tracer, _provider, _pid
    from workers.settings import TracesExporter

    if settings.otel_traces_exporter is TracesExporter.NONE or enabled():
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        resource = Resource.create({"mkto_bulk.process": role})
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    for instrumentor in (CeleryInstrumentor(), BotocoreInstrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
    _tracer, _provider, _pid = provider.get_tracer(TRACER_NAME), provider, os.getpid()
    logger.info("tracing to OpenTelemetry (%s)", role)


def shutdown() -> None:
    """Send the spans still buffered (a pool process or beat is exiting)."""
    if enabled() and hasattr(_provider, "shutdown"):
        _provider.shutdown()


def install(settings: Settings) -> None:
    """Trace each worker pool process and beat when an exporter is configured."""
    from celery.signals import beat_init, worker_process_init, worker_process_shutdown

    from workers.settings import TracesExporter

    if settings.otel_traces_exporter is TracesExporter.NONE:
        return
    uid = "mkto_bulk.traces"
    worker_process_init.connect(lambda **_: setup(settings, "worker"), weak=False, dispatch_uid=uid)
    worker_process_shutdown.connect(lambda **_: shutdown(), weak=False, dispatch_uid=uid)
    beat_init.connect(lambda **_: setup(settings, "beat"), weak=False, dispatch_uid=uid)


# Spans ------------------------------------------------------------------------


@contextmanager
def span(name: str, attributes: Mapping[str, str | int]) -> Iterator[SpanLike]:
    """A client span around one outgoing call, a child of the current one.

    An error marks it failed with its type, and with its message only when it is
    one of ours (which never hold a secret); a foreign message may quote a URL.
    """
    if not enabled():
        yield _NOT_RECORDING
        return
    from opentelemetry.trace import SpanKind, Status, StatusCode

    with _tracer.start_as_current_span(
        name,
        kind=SpanKind.CLIENT,
        attributes=dict(attributes),
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as error:
            current.set_attribute("error.type", type(error).__name__)
            message = str(error) if isinstance(error, MktoBulkError) else type(error).__name__
            current.set_status(Status(StatusCode.ERROR, message))
            raise


def http_status(span: SpanLike, status: int) -> None:
    """A client span's HTTP status; from 400 on, the span failed (``error.type`` the status)."""
    span.set_attribute("http.response.status_code", status)
    if status >= 400 and enabled():
        from opentelemetry.trace import StatusCode

        span.set_attribute("error.type", str(status))
        span.set_status(StatusCode.ERROR, f"HTTP {status}")


def annotate(attributes: Mapping[str, object]) -> None:
    """Set attributes on the current span, if it is still recording."""
    if not enabled() or not attributes:
        return
    from opentelemetry import trace

    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes({k: v for k, v in attributes.items() if isinstance(v, str | int)})


def current_ids() -> tuple[str, str] | None:
    """The current trace and span ids in hex, as tracing backends show them."""
    if not enabled():
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# A load's trace ---------------------------------------------------------------


def _propagator() -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator()


def carrier() -> str | None:
    """The current trace context as JSON (W3C ``traceparent``), to store with a new load."""
    if not enabled():
        return None
    headers: dict[str, str] = {}
    _propagator().inject(headers)
    return json.dumps(headers, sort_keys=True) if headers else None


def _stored(load_id: str, read: Callable[[], str | None]) -> str | None:
    if load_id in _load_traces:
        _load_traces.move_to_end(load_id)
        return _load_traces[load_id]
    try:
        stored = read()
    except Exception as error:  # tracing never stops a step: send it untraced
        logger.debug("trace context of load_id=%s not read: %s", load_id, error)
        return None
    _load_traces[load_id] = stored  # set once, when the load starts: never changes
    while len(_load_traces) > LOAD_TRACES_CACHED:
        _load_traces.popitem(last=False)
    return stored


@contextmanager
def in_load_trace(load_id: str, read: Callable[[], str | None]) -> Iterator[None]:
    """Inside the block, the current trace is the load's (``read`` gives its stored context).

    Already in the load's trace (a step sending its own next step), the current
    span stays the parent; else (the pump, the reconciler, another load's poll)
    a ``rejoin load`` span under the load's stored context becomes it, linked
    to the span that sent the message (in its own trace).
    """
    if not enabled():
        yield
        return
    stored = _stored(load_id, read)
    if not stored:
        yield
        return
    from opentelemetry import trace

    parent = _context_of(stored)
    here = trace.get_current_span().get_span_context()
    if (
        parent is None
        or trace.get_current_span(parent).get_span_context().trace_id == here.trace_id
    ):
        yield  # untraced load, or already in its trace
        return
    with _tracer.start_as_current_span(
        REJOIN_SPAN,
        context=parent,
        links=[trace.Link(here)] if here.is_valid else None,
        attributes={"mkto_bulk.load_id": load_id},
        record_exception=False,
        set_status_on_exception=False,
    ):
        yield


def _context_of(stored: str) -> Any:
    """The OpenTelemetry context a stored trace context names, or None if it names none."""
    from opentelemetry import trace

    try:
        parent = _propagator().extract(json.loads(stored))
    except (ValueError, AttributeError):  # not a JSON object: the steps go untraced
        return None
    return parent if trace.get_current_span(parent).get_span_context().is_valid else None
