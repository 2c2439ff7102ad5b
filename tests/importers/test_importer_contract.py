"""Every registered import API keeps the seam's contract, against the sandbox over HTTP.

The steps rely on exactly this: a submit returns a job id, status reads move
forward to a finished state that stays put, counts add up to the file's rows,
result files hold the rows they count, and a submit that may have reached
Marketo is never repeated behind the step's back. The stub runs the round
trip too, so tests of the steps on the stub test what holds for real APIs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import SecretStr

import workers.pipeline
from tests.marketo_helpers import make_client
from tests.sandbox_helpers import admin
from tests.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Service, wait_for
from workers import defaults
from workers.errors import MarketoTransportError
from workers.importers import IMPORTERS, Importer, Job, JobStatus, ResultFile, make_importer
from workers.importers.stub import ACCEPTED, RowOutcome, StubImporter
from workers.load_request import parse_load_request
from workers.marketo import ImportState, Upload
from workers.objects.leads import LeadImport
from workers.pipeline.runtime import Runtime
from workers.settings import Settings

HEADER = ["email", "firstName", "lastName"]
ROWS = [
    ["ann@example.com", "Ann", "Able"],
    ["", "NoEmail", "Person"],  # refused: no value for the lookup field
    ["not-an-address", "Nota", "Address"],  # imported with a warning: not an email address
    ["cy@example.com", "Cy", "Cole"],
]
FILE = "".join(",".join(row) + "\n" for row in [HEADER, *ROWS]).encode()
# What each registered API sees of the planted rows: (failed, with a warning). An API
# that learns no row outcomes (Data Ingestion: only Marketo's observability stream has
# them) sees (0, 0) and leaves no files.
SEES: dict[str, tuple[int, int]] = {"bulk": (1, 1), "ingestion": (0, 0), "stub": (1, 1)}
ORDER = [ImportState.QUEUED, ImportState.IMPORTING, ImportState.COMPLETE]


def like_the_sandbox(row: Mapping[str, str]) -> RowOutcome:
    """The stub's verdict for this file: the sandbox's rules for the two planted rows."""
    if not row.get("email"):
        return RowOutcome(failure="Missing value for lookup field 'email'")
    if "@" not in row["email"]:
        return RowOutcome(warning="Invalid email address")
    return ACCEPTED


def registered(sandbox: Service, redis_url: str, name: str) -> Importer:
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": 0.05})
    return make_importer(name, make_client(sandbox, redis_url))


@pytest.fixture(params=[*sorted(IMPORTERS), "stub"])
def importer(request: pytest.FixtureRequest) -> Importer:
    if request.param == "stub":
        return StubImporter(reads_to_finish=2, verdict=like_the_sandbox)
    sandbox: Service = request.getfixturevalue("sandbox")
    return registered(sandbox, request.getfixturevalue("redis_url"), request.param)


def finish(importer: Importer, target: LeadImport, job: Job, first: JobStatus) -> JobStatus:
    """Status reads until finished; states only move forward on the way."""
    seen = [first]

    def done() -> bool:
        seen.append(importer.status(target, job))
        return seen[-1].finished

    if not first.finished:
        wait_for(done, timeout=20, interval=0.1, what=f"job {job.id} to finish")
    ranks = [ORDER.index(status.state) for status in seen]
    assert ranks == sorted(ranks), [status.state for status in seen]
    assert all(status.job_id == job.id for status in seen)
    return seen[-1]


def test_a_small_file_round_trips_submit_status_and_result_files(importer: Importer) -> None:
    target = LeadImport(lookup_field="email")
    first = importer.submit(target, Upload.from_bytes(FILE, "chunk-00000.csv"))
    assert first.job_id and first.state is not ImportState.UNKNOWN
    job = Job(first.job_id, len(ROWS))

    final = finish(importer, target, job, first)

    assert final.state is ImportState.COMPLETE and final.raw_status == "Complete"
    assert final.records_processed + final.rows_failed == len(ROWS)
    assert (final.rows_failed, final.rows_with_warning) == SEES[importer.name]
    again = importer.status(target, job)  # a re-driven poll reads the same end
    assert replace(again, request_id=final.request_id, calls=final.calls) == final
    counted = {ResultFile.FAILURES: final.rows_failed, ResultFile.WARNINGS: final.rows_with_warning}
    for which, count in counted.items():
        out = io.BytesIO()
        written = importer.result_file(target, job, which, out)
        if count == 0:
            assert written is None and out.getvalue() == b""
            continue
        assert written == len(out.getvalue())
        header, *rows = list(csv.reader(io.StringIO(out.getvalue().decode())))
        assert header[: len(HEADER)] == HEADER and len(header) == len(HEADER) + 1, which
        assert len(rows) == count and all(row[: len(HEADER)] in ROWS for row in rows), which


@pytest.mark.parametrize("name", sorted(IMPORTERS))
def test_a_submit_that_may_have_reached_marketo_is_not_repeated_by_the_importer(
    name: str, sandbox: Service, redis_url: str
) -> None:
    """The submit step repeats it and counts a possible double; the importer must not."""
    importer = registered(sandbox, redis_url, name)
    target = LeadImport()
    importer.submit(target, Upload.from_bytes(FILE, "first.csv"))  # the token is now cached
    calls = admin(sandbox, "GET", "/_sandbox/stats")["calls"]
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "drop", "count": 1})

    with pytest.raises(MarketoTransportError) as raised:
        importer.submit(target, Upload.from_bytes(FILE, "second.csv"))  # another chunk

    assert raised.value.maybe_sent
    assert admin(sandbox, "GET", "/_sandbox/stats")["calls"] == calls + 1


def test_the_registry_names_each_importer_by_its_own_name() -> None:
    assert IMPORTERS and all(name == cls.name for name, cls in IMPORTERS.items())
    assert set(IMPORTERS) <= set(SEES), "say in SEES what a new API sees of the planted rows"
    assert "stub" not in IMPORTERS  # no load can choose the test double


def test_a_load_goes_through_the_default_api_built_once_per_process(redis_url: str) -> None:
    settings = Settings(
        redis_url=redis_url,
        marketo_rest_url="http://127.0.0.1:9",  # type: ignore[arg-type]  # never called
        marketo_client_id=SANDBOX_CLIENT_ID,
        marketo_client_secret=SecretStr(SANDBOX_CLIENT_SECRET),
    )
    rt = Runtime(settings)
    request = parse_load_request({"source": "s3://etl-out/leads.csv", "object": "leads"})
    importer = rt.importer_for(request)
    assert isinstance(importer, IMPORTERS[defaults.IMPORT_API])
    assert rt.importer_for(request) is importer


def test_the_steps_reach_import_calls_only_through_the_seam() -> None:
    bulk_calls = ("create_import", "import_status", "download_failures", "download_warnings")
    steps = Path(workers.pipeline.__file__).parent
    found = [
        f"{module.name}: {call}"
        for module in sorted(steps.glob("*.py"))
        for call in bulk_calls
        if call in module.read_text()
    ]
    assert found == []
