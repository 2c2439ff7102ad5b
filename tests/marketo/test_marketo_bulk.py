"""The bulk import endpoints and describe against the sandbox over HTTP."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from tests.marketo_helpers import make_client
from tests.sandbox_helpers import admin
from tests.services import Service, wait_for
from workers.errors import MarketoPermanentError, TooManyImports
from workers.marketo import ImportState, ImportStatus, ImportTarget, MarketoClient, Upload
from workers.marketo.describe import Description
from workers.objects import REGISTRY
from workers.objects.custom_objects import CustomObjectImport
from workers.objects.leads import LeadImport
from workers.objects.program_members import MEMBERS_DESCRIBE, ProgramMemberImport

LEADS = (
    b"email,firstName,lastName,leadScore\n"
    b"ann@example.com,Ann,Able,10\n"
    b"bob@example.com,Bob,Baker,not-a-number\n"
    b",NoEmail,Person,3\n"
    b"cy@example.com,Cy,Cole,7\n"
)


@pytest.fixture
def client(sandbox: Service, redis_url: str) -> MarketoClient:
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": 0.05})
    return make_client(sandbox, redis_url)


def finish(client: MarketoClient, target: ImportTarget, batch_id: int) -> ImportStatus:
    seen: list[ImportStatus] = []

    def done() -> bool:
        seen.append(client.import_status(target, batch_id))
        return seen[-1].finished

    wait_for(done, timeout=20, interval=0.1, what=f"batch {batch_id} to finish")
    return seen[-1]


def calls_to(sandbox: Service, endpoint: str) -> int:
    return int(admin(sandbox, "GET", "/_sandbox/stats")["calls_by_endpoint"].get(endpoint, 0))


def test_lead_import_with_every_parameter_status_and_result_files(
    client: MarketoClient, sandbox: Service
) -> None:
    target = LeadImport(lookup_field="email", list_id=501, partition_name="Default")
    job = client.create_import(target, Upload.from_bytes(LEADS, "leads.csv"))
    assert job.batch_id > 0 and job.state in (ImportState.QUEUED, ImportState.IMPORTING)
    assert job.request_id
    status = finish(client, target, job.batch_id)
    assert status.state is ImportState.COMPLETE
    assert (status.records_processed, status.rows_failed) == (2, 2)
    assert status.message and status.observed_at > 0
    failures = io.BytesIO()
    written = client.download_failures(target, job.batch_id, failures)
    assert written == len(failures.getvalue()) > 0
    lines = failures.getvalue().decode().splitlines()
    assert len(lines) == 3 and "bob@example.com" in failures.getvalue().decode()
    assert client.download_warnings(target, job.batch_id, io.BytesIO()) is None  # HTTP 404
    records = admin(sandbox, "GET", "/_sandbox/records/leads")
    assert records["count"] == 2


def test_custom_object_and_program_member_imports(client: MarketoClient) -> None:
    cars = CustomObjectImport("car_c")
    data = b"vin,make,model,year\nV1,Ford,T,1925\nV2,Ford,A,1931\n"
    job = client.create_import(cars, Upload.from_bytes(data, "cars.csv"))
    status = finish(client, cars, job.batch_id)
    assert status.state is ImportState.COMPLETE and status.records_processed == 2
    assert status.object_api_name == "car_c" and status.import_time is not None
    assert client.download_failures(cars, job.batch_id, io.BytesIO()) is None

    members = ProgramMemberImport(1002, "On List", format="tsv")
    data = b"email\tfirstName\tregistrationCode\nann@example.com\tAnn\tR1\n"
    job = client.create_import(members, Upload.from_bytes(data, "members.tsv"))
    status = finish(client, members, job.batch_id)
    assert status.state is ImportState.COMPLETE and status.records_processed == 1


def test_import_errors_are_permanent_with_marketo_s_code(client: MarketoClient) -> None:
    with pytest.raises(MarketoPermanentError) as raised:
        client.create_import(ProgramMemberImport(1002, "Nonsense"), Upload.from_bytes(LEADS))
    assert raised.value.code == "1025" and "Nonsense" in raised.value.message
    assert raised.value.request_id
    assert client.counters()["retries"] == 0


def test_the_upload_is_reopened_from_byte_zero_on_retry(
    client: MarketoClient, sandbox: Service
) -> None:
    opened: list[int] = []

    def factory() -> io.BytesIO:
        opened.append(1)
        return io.BytesIO(LEADS)

    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "drop", "count": 1,
                                                "path_prefix": "/bulk/"})  # fmt: skip
    job = client.create_import(LeadImport(), Upload(factory, len(LEADS)))
    assert len(opened) == 2
    assert finish(client, LeadImport(), job.batch_id).records_processed == 2
    assert client.counters()["possible_double_submits"] == 1


def test_too_many_imports_is_raised_at_once_unless_asked(
    client: MarketoClient, sandbox: Service
) -> None:
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": 60})
    upload = Upload.from_bytes(LEADS)
    for _ in range(10):
        client.create_import(LeadImport(), upload)
    before = calls_to(sandbox, "POST /bulk/v1/leads.json")
    with pytest.raises(TooManyImports) as raised:
        client.create_import(LeadImport(), upload)
    assert raised.value.code == "1016"
    assert calls_to(sandbox, "POST /bulk/v1/leads.json") == before + 1  # no retry


@pytest.mark.parametrize(
    ("describe", "endpoint", "expected"),
    [
        (lambda c: c.describe_leads(), "GET /rest/v1/leads/describe.json", {"email", "crmId"}),
        (lambda c: c.describe_leads2(), "GET /rest/v1/leads/describe2.json", {"email"}),
        (
            lambda c: describe_target(c, CustomObjectImport("car_c")),
            "GET /rest/v1/customobjects/{apiName}/describe.json",
            {"vin", "make"},
        ),
        (
            lambda c: c.describe_path("programMember", MEMBERS_DESCRIBE),
            "GET /rest/v1/programs/members/describe.json",
            {"registrationCode"},
        ),
    ],
)
def test_describe_is_cached_in_redis(
    client: MarketoClient,
    sandbox: Service,
    describe: Callable[[MarketoClient], object],
    endpoint: str,
    expected: set[str],
) -> None:
    first = describe(client)
    again = describe(client)
    assert first == again
    assert expected <= first.field_names  # type: ignore[attr-defined]
    assert calls_to(sandbox, endpoint) == 1
    assert client.counters()["describe_cache_hits"] == 1
    assert client.forget_describes() == 1
    describe(client)
    assert calls_to(sandbox, endpoint) == 2


def describe_target(client: MarketoClient, target: ImportTarget) -> Description:
    """The describe the split checks a header against: the target's own spec calls it."""
    return REGISTRY[target.kind].describe(client, target)


def test_describe_for_an_import_target(client: MarketoClient) -> None:
    members = describe_target(client, ProgramMemberImport(1002, "On List"))
    assert {"email", "registrationCode"} <= members.field_names
    cars = describe_target(client, CustomObjectImport("car_c"))
    assert cars.dedupe_fields == ("vin",)
    with pytest.raises(MarketoPermanentError) as raised:
        describe_target(client, CustomObjectImport("nope_c"))
    assert raised.value.code == "1013"


def test_a_result_download_is_retried_into_a_clean_target(
    client: MarketoClient, sandbox: Service
) -> None:
    target = LeadImport()
    job = client.create_import(target, Upload.from_bytes(LEADS))
    finish(client, target, job.batch_id)
    expected = io.BytesIO()
    client.download_failures(target, job.batch_id, expected)
    for fault in ("drop", "503"):
        admin(sandbox, "POST", "/_sandbox/faults",
              {"fault": fault, "count": 1, "path_prefix": "/bulk/v1/leads/batch/"})  # fmt: skip
        out = io.BytesIO(b"kept:")
        out.seek(0, io.SEEK_END)
        assert client.download_failures(target, job.batch_id, out) == len(expected.getvalue())
        assert out.getvalue() == b"kept:" + expected.getvalue()
    assert client.counters()["retries"] == 2
