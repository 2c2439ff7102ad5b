"""From a load request to what Marketo imports into and what its header must fit."""

from __future__ import annotations

from workers.load_request import LoadRequest, ObjectType
from workers.marketo.describe import Description
from workers.marketo.imports import (
    CustomObjectImport,
    ImportTarget,
    LeadImport,
    ProgramMemberImport,
)
from workers.split.header_check import TargetFields


def import_target(request: LoadRequest) -> ImportTarget:
    fmt = request.format.value
    if request.object is ObjectType.LEADS:
        return LeadImport(
            format=fmt,
            lookup_field=request.lookup_field,
            list_id=request.list_id,
            partition_name=request.partition_name,
        )
    if request.object is ObjectType.CUSTOM_OBJECTS:
        assert request.api_name is not None  # checked by LoadRequest
        return CustomObjectImport(api_name=request.api_name, format=fmt)
    assert request.program_id is not None and request.program_member_status is not None
    return ProgramMemberImport(
        program_id=request.program_id,
        program_member_status=request.program_member_status,
        format=fmt,
    )


def target_fields(request: LoadRequest, description: Description) -> TargetFields:
    """The describe as the splitter's header check wants it: field names and key fields."""
    names = sorted(description.field_names)
    if request.object is ObjectType.LEADS:
        return TargetFields("leads", names, [request.lookup_field or "email"], "lookup")
    if request.object is ObjectType.CUSTOM_OBJECTS:
        dedupe = list(description.dedupe_fields)
        return TargetFields(description.object_name, names, dedupe, "dedupe")
    return TargetFields("program members", names, ["email"], "lookup")
