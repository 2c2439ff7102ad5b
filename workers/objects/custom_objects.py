"""Custom objects of one type (``apiName``), deduplicated on the type's dedupe fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers.objects.base import CliOption, Example, ObjectSpec, PayloadField

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo.describe import Describes, Description
    from workers.marketo.imports import CustomObjectImport
    from workers.marketo.ingestion import IngestionShape
    from workers.split.header_check import TargetFields

API_NAME = PayloadField("apiName", "api_name", required=True)


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
        from workers.marketo.imports import CustomObjectImport

        assert request.api_name is not None  # required by this spec
        return CustomObjectImport(api_name=request.api_name, format=request.format.value)

    def describe(self, marketo: Describes, target: CustomObjectImport) -> Description:
        return marketo.describe_custom_object(target.api_name)

    def target_fields(self, request: LoadRequest, description: Description) -> TargetFields:
        from workers.split.header_check import TargetFields

        names = sorted(description.field_names)
        dedupe = list(description.dedupe_fields)
        return TargetFields(description.object_name, names, dedupe, "dedupe")

    def ingestion_shape(self, target: CustomObjectImport) -> IngestionShape:
        """Records of the type, deduplicated on its dedupe fields (as a bulk import is)."""
        from urllib.parse import quote

        from workers.marketo.ingestion import OBJECTS, IngestionShape

        path = f"/customobjects/{quote(target.api_name, safe='')}"
        return IngestionShape(path, {"dedupeBy": "dedupeFields", "customObjects": OBJECTS})
