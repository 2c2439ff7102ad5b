"""What every object type in the registry must do; a new spec is tested by registering it.

Each spec's own example (a minimal payload and a three-record file) goes through
payload validation, ``mkto-bulk load --help``, describe against the sandbox, its
import target, and a whole import through each import API it supports: a bulk
import through the real client and sandbox, and requests to the sandbox's Data
Ingestion API for every type that has an ingestion shape.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.marketo_helpers import make_client
from tests.sandbox_helpers import admin, drain, ingestion_request
from tests.services import Service, wait_for
from workers.errors import InputError
from workers.importers.ingestion import IngestionImporter
from workers.load_request import LoadRequest, parse_load_request
from workers.marketo import ImportState, ImportStatus, MarketoClient, Upload
from workers.objects import REGISTRY, SPECS, ObjectSpec, ObjectType, PayloadField
from workers.targets import import_target, target_fields

ROOT = Path(__file__).resolve().parents[2]
MKTO_BULK = str(Path(sys.executable).with_name("mkto-bulk"))
SOURCE = "s3://etl-in/contract.csv"
INGESTION = "ingestion"


def example_payload(spec: ObjectSpec[Any], api: str | None = None) -> dict[str, Any]:
    """The example's payload; a type without bulk import goes through the Data Ingestion API."""
    api = api or (None if spec.bulk_import else INGESTION)
    return {"source": SOURCE, "object": spec.name, **spec.example.payload,
            **({"api": api} if api else {})}  # fmt: skip


def example_request(spec: ObjectSpec[Any], **extra: Any) -> LoadRequest:
    return parse_load_request({**example_payload(spec, extra.pop("api", None)), **extra})


def sample(field: PayloadField[Any]) -> Any:
    """A valid value of ``field`` (its first choice, or any id or text)."""
    return field.choices[0] if field.choices else 7 if field.type is int else "x"


def foreign(spec: ObjectSpec[Any], other: ObjectSpec[Any]) -> list[PayloadField[Any]]:
    """``other``'s fields that ``spec`` does not declare too."""
    own = {field.attr for field in spec.fields}
    return [field for field in other.fields if field.attr not in own]


def ingests(spec: ObjectSpec[Any]) -> bool:
    return (
        spec.ingestion_shape(spec.import_target(example_request(spec, api=INGESTION))) is not None
    )


def ids(specs: list[ObjectSpec[Any]]) -> dict[str, Any]:
    return {"params": specs, "ids": [spec.name for spec in specs]}


OTHERS = [
    pytest.param(spec, other, id=f"{spec.name}-refuses-{other.name}")
    for spec in SPECS
    for other in SPECS
    if other is not spec and foreign(spec, other)
]
BULK = [spec for spec in SPECS if spec.bulk_import]
NO_BULK = [spec for spec in SPECS if not spec.bulk_import]
INGESTED = [spec for spec in SPECS if ingests(spec)]
CHOICES = [
    pytest.param(spec, field, id=f"{spec.name}-{field.alias}")
    for spec in SPECS
    for field in spec.fields
    if field.choices
]


@pytest.fixture(params=SPECS, ids=[spec.name for spec in SPECS])
def spec(request: pytest.FixtureRequest) -> ObjectSpec[Any]:
    return request.param


@pytest.fixture(**ids(BULK))
def bulk_spec(request: pytest.FixtureRequest) -> ObjectSpec[Any]:
    return request.param


@pytest.fixture(**ids(INGESTED))
def ingested_spec(request: pytest.FixtureRequest) -> ObjectSpec[Any]:
    return request.param


def test_the_registry_names_each_spec_once_and_the_enum_follows_it() -> None:
    assert list(REGISTRY) == [spec.name for spec in SPECS]
    assert [member.value for member in ObjectType] == list(REGISTRY)
    assert all(REGISTRY[ObjectType(name)] is REGISTRY[name] for name in REGISTRY)


def test_the_minimal_payload_is_accepted(spec: ObjectSpec[Any]) -> None:
    request = example_request(spec)
    assert request.object == spec.name
    assert request.to_json() == {"format": "csv", "mapping": {}, **example_payload(spec)}


def test_each_required_field_is_named_when_missing(spec: ObjectSpec[Any]) -> None:
    for field in (f for f in spec.fields if f.required):
        payload = example_payload(spec)
        del payload[field.alias]
        with pytest.raises(InputError) as raised:
            parse_load_request(payload)
        assert str(raised.value) == (
            f"invalid load request: {field.alias}: required when object is {spec.name}"
        )


@pytest.mark.parametrize(("spec", "other"), OTHERS)
def test_another_type_s_fields_are_refused(spec: ObjectSpec[Any], other: ObjectSpec[Any]) -> None:
    fields = foreign(spec, other)
    with pytest.raises(InputError) as raised:
        example_request(spec, **{field.alias: sample(field) for field in fields})
    # The first foreign field, in registry order, is named with every type that declares it.
    values = {field.attr: sample(field) for field in fields}
    first = next(m for s in SPECS if s is not spec for m in s.refused(values))
    named = next(field for field in fields if first.startswith(f"{field.alias}: "))
    declaring = " or ".join(s.name for s in SPECS if any(f.attr == named.attr for f in s.fields))
    assert first == f"{named.alias}: only applies when object is {declaring}"
    assert str(raised.value) == f"invalid load request: {first}"


def test_a_field_two_types_declare_is_taken_by_both() -> None:
    shared = {field.attr for a in SPECS for b in SPECS if a is not b
              for field in a.fields if field not in foreign(a, b)}  # fmt: skip
    for spec in SPECS:
        for field in (f for f in spec.fields if f.attr in shared):
            request = example_request(spec, **{field.alias: sample(field)})
            assert request.to_json()[field.alias] == sample(field)


@pytest.mark.parametrize(("spec", "field"), CHOICES)
def test_a_choice_field_takes_its_choices_and_refuses_others_naming_the_field(
    spec: ObjectSpec[Any], field: PayloadField[Any]
) -> None:
    own = spec.choices_of(field)  # a shared field's values this type takes
    assert own and set(own) <= set(field.choices)
    for choice in own:
        spelled = choice if field.case_sensitive else choice.upper()
        try:
            example_request(spec, **{field.alias: spelled})
        except InputError as error:  # a rule of the type's own may refuse a combination
            assert not str(error).startswith(f"invalid load request: {field.alias}: must be")
    others = [choice for choice in field.choices if choice not in own]
    for wrong in [own[0].swapcase() if field.case_sensitive else "no-such-choice", *others]:
        with pytest.raises(InputError) as raised:
            example_request(spec, **{field.alias: wrong})
        *first, last = own
        assert str(raised.value).startswith(
            f"invalid load request: {field.alias}: must be {', '.join(first)} or {last} ("
        )
        assert str(raised.value).endswith(f'not "{wrong}"')


@pytest.mark.parametrize("spec", NO_BULK, ids=[spec.name for spec in NO_BULK])
def test_a_type_marketo_imports_only_by_ingestion_is_refused_without_it(
    spec: ObjectSpec[Any],
) -> None:
    for api in (None, "bulk"):
        payload = {"source": SOURCE, "object": spec.name, **spec.example.payload}
        with pytest.raises(InputError) as raised:
            parse_load_request({**payload, **({"api": api} if api else {})})
        assert str(raised.value) == (
            f'invalid load request: api: Marketo has no bulk import of {spec.name}; set "api": '
            '"ingestion" to load them through its Data Ingestion API'
        )


def test_the_cli_offers_the_type_and_its_options(spec: ObjectSpec[Any]) -> None:
    result = subprocess.run(
        [MKTO_BULK, "load", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.split())
    assert f"[{'|'.join(REGISTRY)}]" in help_text
    for option in spec.cli_options:
        assert f"{option.flag} " in help_text and " ".join(option.help.split()) in help_text


def test_the_import_target_carries_every_payload_field(bulk_spec: ObjectSpec[Any]) -> None:
    spec = bulk_spec
    target = import_target(example_request(spec, format="tsv"))
    assert target is not None and target.params()["format"] == "tsv"
    sent = target.create_path() + "|" + "|".join(target.params().values())
    for alias, value in spec.example.payload.items():
        assert str(value) in sent, f"{alias}={value!r} reaches neither the path nor a parameter"
    assert target.status_path(7).endswith(".json") and "7" in target.status_path(7)
    assert target.file_path(7, "failures").endswith("/failures.json")


def test_the_ingestion_shape_carries_every_payload_field(ingested_spec: ObjectSpec[Any]) -> None:
    spec = ingested_spec
    target = import_target(example_request(spec, api=INGESTION, format="tsv"))
    assert target.format == "tsv"
    shape = spec.ingestion_shape(target)
    assert shape is not None
    before, after = shape.wrap()  # the objects go in exactly once
    sent = shape.path + "|" + (before + after).decode()
    for alias, value in spec.example.payload.items():
        assert str(value) in sent, f"{alias}={value!r} reaches neither the path nor the body"


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
    assert fields.key_fields and set(fields.key_fields) <= set(header)
    assert set(fields.key_fields) <= description.field_names


def test_describe_covers_the_example_file_for_ingestion(
    ingested_spec: ObjectSpec[Any], client: MarketoClient
) -> None:
    spec = ingested_spec
    request = example_request(spec, api=INGESTION)
    description = spec.describe(client, import_target(request))
    header = ingestion_file(spec).splitlines()[0].split(",")
    fields = target_fields(request, description)
    assert set(header) <= description.field_names
    assert fields.key_fields and set(fields.key_fields) <= set(header)


def ingestion_file(spec: ObjectSpec[Any]) -> str:
    return spec.example.ingestion_file or spec.example.file


def test_a_three_record_import_round_trips_through_the_sandbox(
    bulk_spec: ObjectSpec[Any], client: MarketoClient
) -> None:
    spec = bulk_spec
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


def test_three_records_round_trip_through_the_sandbox_s_data_ingestion_api(
    ingested_spec: ObjectSpec[Any], client: MarketoClient, sandbox: Service
) -> None:
    spec = ingested_spec
    importer = IngestionImporter(client)
    # Earlier types' examples first: a later example may name their records (lead ids).
    for earlier in INGESTED[: INGESTED.index(spec)]:
        target = import_target(example_request(earlier, api=INGESTION))
        data = ingestion_file(earlier).encode()
        importer.submit(target, Upload.from_bytes(data, key=f"earlier/{earlier.name}"))
        drain(sandbox)
    target = import_target(example_request(spec, api=INGESTION))
    spec.check_parameters(client, target)  # the example names what the sandbox has
    data = ingestion_file(spec).encode()
    status = importer.submit(target, Upload.from_bytes(data, key=f"contract/{spec.name}"))
    assert status.state is ImportState.COMPLETE, status.message
    assert (status.records_processed, status.rows_failed) == (3, 0)
    assert drain(sandbox) == 1 and status.request_id is not None
    applied = ingestion_request(sandbox, status.request_id)
    assert (applied["status"], applied["applied"], applied["failures"]) == ("applied", 3, [])
