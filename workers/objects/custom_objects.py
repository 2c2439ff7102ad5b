"""Custom objects of one type (``apiName``), deduplicated on the type's dedupe fields.

Through the Data Ingestion API a load may instead match records on Marketo's
own ``marketoGUID`` (``dedupeBy`` marketoGUID): each row then carries the
GUID, and Marketo refuses a row that changes the record's dedupe fields. Bulk
import always matches on the dedupe fields, so it refuses that choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from workers.objects.base import CliOption, Example, ObjectSpec, Target, choice_field, text_field

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo.describe import Describes, Description
    from workers.marketo.ingestion import IngestionShape
    from workers.split.header_check import TargetFields

API_NAME = text_field("apiName", "api_name", required=True)
# One payload field for every type that takes Marketo's dedupeBy (one flag, one name):
# its choices are all of Marketo's, and each type refuses those it has not.
DEDUPE_BY = choice_field(
    "dedupeBy", "dedupe_by", ("dedupeFields", "idField", "marketoGUID"), case_sensitive=False
)
BY_FIELDS = "dedupeFields"
BY_GUID = "marketoGUID"
OWN_CHOICES = (BY_FIELDS, BY_GUID)  # data-ingestion.md, Custom Objects
GUID = "marketoGUID"  # the file's key column when matching on it


class CustomObjects(ObjectSpec["CustomObjectImport"]):
    name = "customobjects"
    member = "CUSTOM_OBJECTS"
    fields = (API_NAME, DEDUPE_BY)
    own_choices = {DEDUPE_BY.attr: OWN_CHOICES}
    cli_options = (
        CliOption("--api-name", API_NAME, "Custom objects: the object's API name."),
        CliOption(
            "--dedupe-by",
            DEDUPE_BY,
            "Custom objects: match on the type's dedupe fields, or on marketoGUID "
            "(--api ingestion only) [dedupeFields].",
        ),
    )

    example = Example(
        {"apiName": "car_c"},
        "vin,make,model,year\nV1,Ford,T,1925\nV2,Ford,A,1931\nV3,Fiat,500,1957\n",
    )

    def bulk_refusal(self, request: LoadRequest) -> str | None:
        if _dedupe_by(request.option(DEDUPE_BY)) == BY_GUID:
            return (
                f'{DEDUPE_BY.alias}: {BY_GUID} needs "api": "ingestion" (a bulk import of '
                "custom objects matches them on their dedupe fields)"
            )
        return None

    def import_target(self, request: LoadRequest) -> CustomObjectImport:
        return CustomObjectImport(
            api_name=request.required(API_NAME),
            dedupe_by=_dedupe_by(request.option(DEDUPE_BY)),
            format=request.format.value,
        )

    def describe(self, marketo: Describes, target: CustomObjectImport) -> Description:
        # The describe call found the object type: there is nothing more to check before the split.
        path = f"/rest/v1/customobjects/{_segment(target.api_name)}/describe.json"
        return marketo.describe_path(target.api_name, path)

    def target_fields(self, request: LoadRequest, description: Description) -> TargetFields:
        from workers.split.header_check import TargetFields

        names = sorted(description.field_names)
        if _dedupe_by(request.option(DEDUPE_BY)) == BY_GUID:
            note = f"{DEDUPE_BY.alias} {BY_GUID} matches each record on it"
            return TargetFields(description.object_name, names, [GUID], "dedupe", note)
        dedupe = list(description.dedupe_fields)
        return TargetFields(description.object_name, names, dedupe, "dedupe")

    def ingestion_shape(self, target: CustomObjectImport) -> IngestionShape:
        """Records of the type, matched on its dedupe fields (as a bulk import is) or GUID."""
        from workers.marketo.ingestion import OBJECTS, IngestionShape

        path = f"/customobjects/{_segment(target.api_name)}"
        body = {DEDUPE_BY.alias: target.dedupe_by, "customObjects": OBJECTS}
        required = (GUID,) if target.dedupe_by == BY_GUID else ()
        return IngestionShape(path, body, required=required)


@dataclass(frozen=True)
class CustomObjectImport(Target):
    """Custom objects of the type ``api_name`` (e.g. ``car_c``)."""

    object_name = CustomObjects.name
    api_name: str
    dedupe_by: str = BY_FIELDS  # the Data Ingestion API's; bulk import has only this one

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.api_name:
            raise ValueError("api_name is required for a custom object import")

    def create_path(self) -> str:
        return f"/bulk/v1/customobjects/{_segment(self.api_name)}/import.json"

    def status_path(self, batch_id: int) -> str:
        return (
            f"/bulk/v1/customobjects/{_segment(self.api_name)}/import/{int(batch_id)}/status.json"
        )

    def file_path(self, batch_id: int, which: str) -> str:
        name = _segment(self.api_name)
        return f"/bulk/v1/customobjects/{name}/import/{int(batch_id)}/{which}.json"

    def params(self) -> dict[str, str]:
        return {"format": self.format}


def _dedupe_by(value: object) -> str:
    return DEDUPE_BY.canonical(value if isinstance(value, str) else None, OWN_CHOICES) or BY_FIELDS


def _segment(value: str) -> str:
    """``value`` as one URL path segment (an API name holding "/" stays one segment)."""
    return quote(value, safe="")


SPEC = CustomObjects()  # what the registry (workers.objects) takes from this module
