"""A start_load payload is checked at the door, and a bad one names its field."""

from __future__ import annotations

import pytest

from workers.errors import InputError
from workers.load_request import ObjectType, parse_load_request
from workers.objects.companies import CompanyImport
from workers.objects.custom_objects import CustomObjectImport
from workers.objects.leads import LIST_ID
from workers.objects.list_members import ListMemberImport
from workers.targets import import_target


def test_a_lead_load_accepts_marketos_parameter_names() -> None:
    request = parse_load_request(
        {"source": "s3://etl/leads/2026-11-22/", "object": "leads", "format": "tsv",
         "lookupField": "email", "listId": 42, "partitionName": "EMEA",
         "mapping": {"E-mail": "email", "internal_id": None}, "idempotencyKey": "n:2026-11-22"}
    )  # fmt: skip
    assert request.object is ObjectType("leads")
    assert request.option(LIST_ID) == 42
    assert request.to_json()["lookupField"] == "email"
    assert request.mapping == {"E-mail": "email", "internal_id": None}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"object": "leads"}, "source: is required"),
        ({"source": "s3://etl/k", "object": "lead"}, "object: Input should be 'leads'"),
        ({"source": "s3://etl/k", "object": "customobjects"}, "apiName: required"),
        ({"source": "s3://etl/k", "object": "programmembers", "programId": 5},
         "programMemberStatus: required"),
        ({"source": "s3://etl/k", "object": "customobjects", "apiName": "car_c",
          "lookupField": "email"}, "lookupField: only applies when object is leads"),
        ({"source": "s3://etl/k", "object": "leads", "listid": 3}, "listid: is not a known field"),
        ({"source": "s3://etl/k", "object": "leads", "format": "xls"}, "format: Input should be"),
        ({"source": "http://x/y", "object": "leads"}, "source: must be an s3://"),
        ({"source": "s3://etl/k", "object": "leads", "listId": -1},
         "listId: Input should be greater"),
    ],
)  # fmt: skip
def test_a_bad_payload_is_rejected_naming_the_field(
    payload: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_load_request(payload)
    assert message in str(caught.value)


def test_input_format_and_encoding_describe_the_source_and_format_the_output() -> None:
    request = parse_load_request({"source": "s3://etl/leads.csv", "object": "leads",
                                  "inputFormat": "ssv", "encoding": "cp1252"})  # fmt: skip
    assert (request.input_format, request.format, request.encoding) == ("ssv", "csv", "cp1252")
    assert request.to_json()["inputFormat"] == "ssv"


def test_the_policy_decides_local_sources_and_callback_queues() -> None:
    from workers.load_request import LoadRequest, RequestPolicy

    local = {"source": "/data/leads.csv", "object": "leads"}
    assert (
        parse_load_request(local, RequestPolicy(allow_local_sources=True)).source == local["source"]
    )
    with pytest.raises(InputError, match="is a local path; workers read only s3:// sources"):
        parse_load_request(local)
    callback = {"source": "s3://etl/k", "object": "leads", "callback": "etl.done",
                "callbackQueue": "etl"}  # fmt: skip
    assert parse_load_request(callback, RequestPolicy(callback_queues=frozenset({"etl"})))
    with pytest.raises(InputError, match='callbackQueue: "etl" is not in CALLBACK_QUEUES'):
        parse_load_request(callback, RequestPolicy(callback_queues=frozenset({"etl-2"})))
    # A record already accepted (read back by the chunk steps) is not checked against a policy.
    assert LoadRequest.model_validate(local).source == local["source"]


def test_a_mapping_of_fifty_thousand_columns_is_refused_at_the_door_in_one_short_line() -> None:
    mapping = {f"column_{i:05d}": "firstName" for i in range(50_000)}
    with pytest.raises(InputError) as caught:
        parse_load_request({"source": "s3://etl/k", "object": "leads", "mapping": mapping})
    assert str(caught.value) == "invalid load request: mapping: has 50,000 columns (at most 1,000)"


def test_a_load_chooses_its_import_api_and_bulk_import_is_the_default() -> None:
    leads = {"source": "s3://etl/leads.csv", "object": "leads"}
    assert parse_load_request(leads).api is None  # bulk import; not written into the record
    assert "api" not in parse_load_request(leads).to_json()
    assert parse_load_request({**leads, "api": "ingestion"}).api == "ingestion"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"object": "leads", "api": "fast"},
         'api: "fast" is not an import API (one of bulk, ingestion)'),
        ({"object": "leads", "api": "ingestion", "listId": 12},
         "listId: the Data Ingestion API does not add persons to a static list as it imports "
         "them (leave out api to use bulk import)"),
        ({"object": "leads", "api": "x" * 33}, "api: is 33 characters long (at most 32)"),
    ],
)  # fmt: skip
def test_an_api_that_cannot_take_the_load_is_refused_naming_the_field(
    payload: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_load_request({"source": "s3://etl/leads.csv", **payload})
    assert str(caught.value) == f"invalid load request: {message}"


INGESTION = {"source": "s3://etl/c.csv", "api": "ingestion"}


def test_companies_take_marketos_action_and_dedupe_by_and_default_to_create_or_update() -> None:
    plain = import_target(parse_load_request({**INGESTION, "object": "companies"}))
    assert plain == CompanyImport(action="createOrUpdate", dedupe_by="dedupeFields")
    by_id = parse_load_request(
        {**INGESTION, "object": "companies", "action": "updateOnly", "dedupeBy": "IDFIELD"}
    )
    assert import_target(by_id) == CompanyImport(action="updateOnly", dedupe_by="idField")
    assert by_id.to_json()["dedupeBy"] == "IDFIELD"  # the payload as given; Marketo's spelling sent


def test_custom_objects_match_on_their_dedupe_fields_or_on_marketo_guid_by_ingestion() -> None:
    car = {"object": "customobjects", "apiName": "car_c"}
    plain = import_target(parse_load_request({"source": "s3://etl/c.csv", **car}))
    assert plain == CustomObjectImport(api_name="car_c", dedupe_by="dedupeFields")
    by_guid = parse_load_request({**INGESTION, **car, "dedupeBy": "MARKETOGUID"})
    assert import_target(by_guid) == CustomObjectImport(api_name="car_c", dedupe_by="marketoGUID")


def test_list_members_take_the_list_and_add_by_default() -> None:
    request = parse_load_request({**INGESTION, "object": "listmembers", "listId": 501})
    assert request.to_json()["listId"] == 501
    assert import_target(request) == ListMemberImport(list_id=501, list_action="add")
    remove = {**INGESTION, "object": "listmembers", "listId": 501, "listAction": "remove"}
    assert import_target(parse_load_request(remove)) == ListMemberImport(501, "remove")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"object": "companies", "api": None},
         'api: Marketo has no bulk import of companies; set "api": "ingestion" to load them '
         "through its Data Ingestion API"),
        ({"object": "listmembers", "listId": 501, "api": "bulk"},
         'api: Marketo has no bulk import of listmembers; set "api": "ingestion" to load them '
         "through its Data Ingestion API"),
        ({"object": "companies", "action": "createonly"},
         'action: must be createOnly, updateOnly or createOrUpdate (case-sensitive), '
         'not "createonly"'),
        ({"object": "companies", "dedupeBy": "email"},
         'dedupeBy: must be dedupeFields or idField (in any case), not "email"'),
        ({"object": "companies", "dedupeBy": "marketoguid"},
         'dedupeBy: must be dedupeFields or idField (in any case), not "marketoguid"'),
        ({"object": "customobjects", "apiName": "car_c", "dedupeBy": "idField"},
         'dedupeBy: must be dedupeFields or marketoGUID (in any case), not "idField"'),
        ({"object": "customobjects", "apiName": "car_c", "dedupeBy": "marketoGUID", "api": None},
         'dedupeBy: marketoGUID needs "api": "ingestion" (a bulk import of custom objects '
         "matches them on their dedupe fields)"),
        ({"object": "leads", "dedupeBy": "dedupeFields"},
         "dedupeBy: only applies when object is customobjects or companies"),
        ({"object": "companies", "dedupeBy": "idField"},
         "dedupeBy: idField only applies with action updateOnly (Marketo creates companies "
         "only by externalCompanyId), not createOrUpdate"),
        ({"object": "companies", "action": "createOnly", "dedupeBy": "idfield"},
         "dedupeBy: idField only applies with action updateOnly (Marketo creates companies "
         "only by externalCompanyId), not createOnly"),
        ({"object": "companies", "action": 3}, "action: Input should be a valid string"),
        ({"object": "listmembers"}, "listId: required when object is listmembers"),
        ({"object": "listmembers", "listId": "501"}, "listId: Input should be a valid integer"),
        ({"object": "listmembers", "listId": 501, "listAction": "delete"},
         'listAction: must be add or remove (case-sensitive), not "delete"'),
        ({"object": "listmembers", "listId": 501, "action": "updateOnly"},
         "action: only applies when object is companies"),
        ({"object": "leads", "listAction": "add"},
         "listAction: only applies when object is listmembers"),
        ({"object": "customobjects", "apiName": "car_c", "listId": 5},
         "listId: only applies when object is leads or listmembers"),
    ],
)  # fmt: skip
def test_a_bad_company_or_list_member_payload_is_refused_naming_the_field(
    payload: dict[str, object], message: str
) -> None:
    merged = {key: value for key, value in {**INGESTION, **payload}.items() if value is not None}
    with pytest.raises(InputError) as caught:
        parse_load_request(merged)
    assert str(caught.value) == f"invalid load request: {message}"


def test_a_load_names_its_priority_and_a_payload_without_one_is_normal_and_unchanged() -> None:
    urgent = parse_load_request({"source": "s3://etl/k", "object": "leads", "priority": "high"})
    assert urgent.load_priority == "high"
    assert urgent.to_json()["priority"] == "high"
    plain = parse_load_request({"source": "s3://etl/k", "object": "leads"})
    assert plain.load_priority == "normal"
    # Left out, as before: an idempotency key's stored payload still matches a repeat.
    assert "priority" not in plain.to_json()
    with pytest.raises(InputError, match=r"priority: Input should be 'high', 'normal' or 'low'"):
        parse_load_request({"source": "s3://etl/k", "object": "leads", "priority": "urgent"})
