"""Custom objects of one type (``apiName``), deduplicated on the type's dedupe fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from workers.objects.base import CliOption, Example, ObjectSpec, Target, text_field

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo.describe import Describes, Description
    from workers.marketo.ingestion import IngestionShape
    from workers.split.header_check import TargetFields

API_NAME = text_field("apiName", "api_name", required=True)


class CustomObjects(ObjectSpec["CustomObjectImport"]):
    name = "customobjects"
    member = "CUSTOM_OBJECTS"
    fields = (API_NAME,)
    cli_options = (CliOption("--api-name", API_NAME, "Custom objects: the object's API name."),)

    example = Example(
        {"apiName": "car_c"},
        "vin,make,model,year\nV1,Ford,T,1925\nV2,Ford,A,1931\nV3,Fiat,500,1957\n",
    )

    def import_target(self, request: LoadRequest) -> CustomObjectImport:
        return CustomObjectImport(api_name=request.required(API_NAME), format=request.format.value)

    def describe(self, marketo: Describes, target: CustomObjectImport) -> Description:
        # The describe call found the object type: there is nothing more to check before the split.
        path = f"/rest/v1/customobjects/{_segment(target.api_name)}/describe.json"
        return marketo.describe_path(target.api_name, path)

    def target_fields(self, request: LoadRequest, description: Description) -> TargetFields:
        from workers.split.header_check import TargetFields

        names = sorted(description.field_names)
        dedupe = list(description.dedupe_fields)
        return TargetFields(description.object_name, names, dedupe, "dedupe")

    def ingestion_shape(self, target: CustomObjectImport) -> IngestionShape:
        """Records of the type, deduplicated on its dedupe fields (as a bulk import is)."""
        from workers.marketo.ingestion import OBJECTS, IngestionShape

        # Marketo deduplicates on the type's dedupe fields unless told otherwise.
        path = f"/customobjects/{_segment(target.api_name)}"
        return IngestionShape(path, {"customObjects": OBJECTS})


@dataclass(frozen=True)
class CustomObjectImport(Target):
    """Custom objects of the type ``api_name`` (e.g. ``car_c``)."""

    object_name = CustomObjects.name
    api_name: str

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


def _segment(value: str) -> str:
    """``value`` as one URL path segment (an API name holding "/" stays one segment)."""
    return quote(value, safe="")


SPEC = CustomObjects()  # what the registry (workers.objects) takes from this module
