"""Tracing is opt-in: off, it costs nothing; asked for without the extra, it says how to get it."""

from __future__ import annotations

import pytest

from workers.errors import SettingsError
from workers.marketo.transport import _span_attributes
from workers.settings import Settings, TracesExporter
from workers.telemetry import traces


def test_without_an_exporter_nothing_is_traced_and_no_load_is_read() -> None:
    assert Settings().otel_traces_exporter is TracesExporter.NONE
    assert not traces.enabled()
    assert traces.carrier() is None
    with traces.span("marketo GET /x", {}) as span:
        span.set_attribute("http.response.status_code", 200)

    def read() -> str:
        raise AssertionError("the ledger is not read when not tracing")

    with traces.in_load_trace("L1", read):
        pass


def test_an_exporter_without_the_otel_extra_stops_the_worker_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(traces, "REQUIRED_MODULES", ("opentelemetry_not_installed.sdk",))
    with pytest.raises(SettingsError, match=r"pip install 'mkto-bulk\[otel\]'"):
        traces.check(Settings(otel_traces_exporter=TracesExporter.OTLP))
    traces.check(Settings())  # none: nothing needed


def test_a_marketo_span_names_the_url_without_its_query_or_credentials() -> None:
    url = "https://user:pw@123-ABC-456.mktorest.com:8443/bulk/v1/leads.json?access_token=abc"
    assert _span_attributes("POST", url) == {
        "http.request.method": "POST",
        "server.address": "123-abc-456.mktorest.com",
        "server.port": 8443,
        "url.full": "https://123-abc-456.mktorest.com:8443/bulk/v1/leads.json",
    }
