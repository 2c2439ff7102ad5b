"""Import targets, status parsing, describe parsing and the streamed upload, without a network."""

from __future__ import annotations

import io

import pytest
from requests_toolbelt import MultipartEncoder

from tests.marketo_helpers import GeneratedFile
from workers.errors import MarketoTransportError
from workers.marketo import ImportKind, ImportState, Upload
from workers.marketo.describe import parse_description
from workers.marketo.imports import parse_status
from workers.marketo.upload import ExactReader, open_upload
from workers.objects.custom_objects import CustomObjectImport
from workers.objects.leads import LeadImport
from workers.objects.program_members import ProgramMemberImport


def test_lead_import_paths_and_every_documented_parameter() -> None:
    target = LeadImport(format="TSV", lookup_field="crmId", list_id=501, partition_name="EMEA")
    assert target.create_path() == "/bulk/v1/leads.json"
    assert target.status_path(42) == "/bulk/v1/leads/batch/42.json"
    assert target.file_path(42, "failures") == "/bulk/v1/leads/batch/42/failures.json"
    assert target.file_path(42, "warnings") == "/bulk/v1/leads/batch/42/warnings.json"
    assert target.params() == {
        "format": "tsv",
        "lookupField": "crmId",
        "listId": "501",
        "partitionName": "EMEA",
    }
    assert LeadImport().params() == {"format": "csv"}


def test_custom_object_and_program_member_paths() -> None:
    car = CustomObjectImport("car_c", format="ssv")
    assert car.create_path() == "/bulk/v1/customobjects/car_c/import.json"
    assert car.status_path(7) == "/bulk/v1/customobjects/car_c/import/7/status.json"
    assert car.file_path(7, "warnings") == "/bulk/v1/customobjects/car_c/import/7/warnings.json"
    assert car.params() == {"format": "ssv"}
    members = ProgramMemberImport(1002, "On List")
    assert members.create_path() == "/bulk/v1/program/1002/members/import.json"
    assert members.status_path(9) == "/bulk/v1/program/members/import/9/status.json"
    assert members.file_path(9, "failures") == "/bulk/v1/program/members/import/9/failures.json"
    assert members.params() == {"format": "csv", "programMemberStatus": "On List"}
    assert CustomObjectImport("a/b").create_path() == "/bulk/v1/customobjects/a%2Fb/import.json"


def test_targets_refuse_bad_parameters() -> None:
    with pytest.raises(ValueError, match="format"):
        LeadImport(format="xlsx")
    with pytest.raises(ValueError):
        CustomObjectImport("")
    with pytest.raises(ValueError):
        ProgramMemberImport(1, "")


def test_status_is_typed_for_leads_and_custom_objects() -> None:
    lead = parse_status(
        ImportKind("leads"),
        [
            {
                "batchId": 1022,
                "importId": "1022",
                "status": "Complete",
                "numOfLeadsProcessed": 2,
                "numOfRowsFailed": 1,
                "numOfRowsWithWarning": 0,
                "message": "Import completed with errors, 2 records imported (2 members), 1 failed",
            }
        ],
        "8136#146daebc2ed",
        observed_at=5.0,
        call_s=0.1,
        path="/p",
    )
    assert (lead.batch_id, lead.state, lead.records_processed, lead.rows_failed) == (
        1022,
        ImportState.COMPLETE,
        2,
        1,
    )
    assert lead.finished and lead.request_id == "8136#146daebc2ed" and lead.observed_at == 5.0
    car = parse_status(
        ImportKind("customobjects"),
        [
            {
                "batchId": 3,
                "status": "Importing",
                "numOfObjectsProcessed": 3,
                "importTime": "2 seconds",
                "objectApiName": "car_c",
                "operation": "import",
            }
        ],
        None,
        observed_at=0,
        call_s=0,
        path="/p",
    )
    assert car.records_processed == 3 and car.import_time == "2 seconds" and not car.finished
    odd = parse_status(
        ImportKind("leads"),
        [{"batchId": 4, "status": "Paused"}],
        None,
        observed_at=0,
        call_s=0,
        path="/p",
    )
    assert odd.state is ImportState.UNKNOWN and odd.raw_status == "Paused"
    with pytest.raises(MarketoTransportError):
        parse_status(ImportKind("leads"), [], None, observed_at=0, call_s=0, path="/p")


def test_describe_shapes() -> None:
    leads = parse_description(
        "lead",
        [
            {
                "id": 2,
                "displayName": "Company Name",
                "dataType": "string",
                "length": 255,
                "rest": {"name": "company", "readOnly": False},
                "soap": {"name": "Company", "readOnly": False},
            },
            {"id": 1, "dataType": "integer", "rest": {"name": "id", "readOnly": True}},
        ],
    )
    assert leads.field_names == {"company", "id"}
    company = leads.field("company")
    assert company is not None and company.updateable is True
    car = parse_description(
        "car_c",
        [
            {
                "name": "car_c",
                "idField": "marketoGUID",
                "dedupeFields": ["vin"],
                "fields": [{"name": "vin", "dataType": "string"}, {"name": "year"}],
            }
        ],
    )
    assert car.field_names == {"vin", "year"} and car.dedupe_fields == ("vin",)
    merged = leads.merged(car, "both")
    assert merged.field_names == {"company", "id", "vin", "year"}


def test_exact_reader_streams_exactly_the_length_through_the_encoder() -> None:
    size = 3_000_000
    source = GeneratedFile(size)
    reader = ExactReader(source, size)
    encoder = MultipartEncoder(fields={"format": "csv", "file": ("a.csv", reader, "text/csv")})
    total = encoder.len
    assert total > size
    read = 0
    biggest = 0
    while chunk := encoder.read(8192):
        read += len(chunk)
        biggest = max(biggest, len(chunk))
    assert read == total and source.sent == size
    assert biggest <= 8192 + 1024  # the encoder never pulled the file in whole


def test_a_source_shorter_than_its_length_fails_instead_of_hanging() -> None:
    reader = ExactReader(io.BytesIO(b"abc"), 10)
    assert reader.read(3) == b"abc"
    with pytest.raises(MarketoTransportError, match="3 of 10"):
        reader.read(3)


def test_upload_length_can_come_from_the_reader() -> None:
    class Sized(io.BytesIO):
        @property
        def len(self) -> int:
            return 5

    assert open_upload(Upload(lambda: Sized(b"hello"))).len == 5
    assert open_upload(Upload.from_bytes(b"abc")).len == 3
    with pytest.raises(ValueError, match="length"):
        open_upload(Upload(lambda: GeneratedFile(10)))
