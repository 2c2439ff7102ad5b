"""What every object type in the registry must do; a new spec is tested by registering it.

Each spec's own example (a minimal payload and a three-record file) goes through
payload validation, ``mkto-bulk load --help``, describe against the sandbox, its
import target, and a whole import through the real client and sandbox.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.marketo_helpers import make_client
from tests.sandbox_helpers import admin
from tests.services import Service, wait_for
from workers.errors import InputError
from workers.load_request import LoadRequest, parse_load_request
from workers.marketo import ImportState, ImportStatus, MarketoClient, Upload
from workers.objects import REGISTRY, SPECS, ObjectSpec, ObjectType
from workers.targets import import_target, target_fields

ROOT = Path(__file__).resolve().parents[2]
MKTO_BULK = str(Path(sys.executable).with_name("mkto-bulk"))
SOURCE = "s3://etl-in/contract.csv"
OTHERS = [
    pytest.param(spec, other, id=f"{spec.name}-refuses-{other.name}")
    for spec in SPECS
    for other in SPECS
    if other is not spec
]


@pytest.fixture(params=SPECS, ids=[spec.name for spec in SPECS])
def spec(request: pytest.FixtureRequest) -> ObjectSpec[Any]:
    return request.param


def example_request(spec: ObjectSpec[Any], **extra: Any) -> LoadRequest:
    return parse_load_request({"source": SOURCE, "object": spec.name, **spec.example.payload,
                               **extra})  # fmt: skip


def test_the_registry_names_each_spec_once_and_the_enum_follows_it() -> None:
    assert list(REGISTRY) == [spec.name for spec in SPECS]
    assert [member.value for member in ObjectType] == list(REGISTRY)
    assert all(REGISTRY[ObjectType(name)] is REGISTRY[name] for name in REGISTRY)


def test_the_minimal_payload_is_accepted(spec: ObjectSpec[Any]) -> None:
    request = example_request(spec)
    assert request.object == spec.name
    assert request.to_json() == {"source": SOURCE, "object": spec.name, "format": "csv",
                                 "mapping": {}, **spec.example.payload}  # fmt: skip


def test_each_required_field_is_named_when_missing(spec: ObjectSpec[Any]) -> None:
    for field in (f for f in spec.fields if f.required):
        payload = {"source": SOURCE, "object": spec.name, **spec.example.payload}
        del payload[field.alias]
        with pytest.raises(InputError) as raised:
            parse_load_request(payload)
        assert str(raised.value) == (
            f"invalid load request: {field.alias}: required when object is {spec.name}"
        )


@pytest.mark.parametrize(("spec", "other"), OTHERS)
def test_another_type_s_fields_are_refused(spec: ObjectSpec[Any], other: ObjectSpec[Any]) -> None:
    with pytest.raises(InputError) as raised:
        example_request(spec, **other.example.payload)
    first = other.refused({f.attr: other.example.payload.get(f.alias) for f in other.fields})[0]
    assert first.endswith(f": only applies when object is {other.name}")
    assert str(raised.value) == f"invalid load request: {first}"


def test_the_cli_offers_the_type_and_its_options(spec: ObjectSpec[Any]) -> None:
    result = subprocess.run(
        [MKTO_BULK, "load", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.split())
    assert f"[{'|'.join(REGISTRY)}]" in help_text
    for option in spec.cli_options:
        assert f"{option.flag} " in help_text and " ".join(option.help.split()) in help_text


def test_the_import_target_carries_every_payload_field(spec: ObjectSpec[Any]) -> None:
    target = import_target(example_request(spec, format="tsv"))
    assert target is not None and target.params()["format"] == "tsv"
    sent = target.create_path() + "|" + "|".join(target.params().values())
    for alias, value in spec.example.payload.items():
        assert str(value) in sent, f"{alias}={value!r} reaches neither the path nor a parameter"
    assert target.status_path(7).endswith(".json") and "7" in target.status_path(7)
    assert target.file_path(7, "failures").endswith("/failures.json")


@pytest.fixture
def client(sandbox: Service, redis_url: str) -> MarketoClient:
    admin(sandbox, "PATCH", "/_sandbox/config", {"import_overhead_s": 0.05})
    return make_client(sandbox, redis_url)


def test_describe_through_the_sandbox_covers_the_example_file(
    spec: ObjectSpec[Any], client: MarketoClient
) -> None:
    request = example_request(spec)
    description = spec.describe(client, import_target(request))
    header = spec.example.file.splitlines()[0].split(",")
    assert set(header) <= description.field_names
    fields = target_fields(request, description)
    assert fields.key_fields and set(fields.key_fields) <= description.field_names


def test_a_three_record_import_round_trips_through_the_sandbox(
    spec: ObjectSpec[Any], client: MarketoClient
) -> None:
    target = import_target(example_request(spec))
    spec.check_parameters(client, target)  # the example names what the sandbox has
    job = client.create_import(target, Upload.from_bytes(spec.example.file.encode()))
    seen: list[ImportStatus] = []

    def finished() -> bool:
        seen.append(client.import_status(target, job.batch_id))
        return seen[-1].finished

    wait_for(finished, timeout=20, interval=0.1, what=f"{spec.name} batch {job.batch_id}")
    status = seen[-1]
    assert status.state is ImportState.COMPLETE, status.message
    assert (status.records_processed, status.rows_failed, status.rows_with_warning) == (3, 0, 0)
