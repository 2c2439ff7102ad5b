"""Describe endpoints, built from the same definitions that the row rules use."""

from __future__ import annotations

from typing import Any

from infra.sandbox.config import CustomObjectDef, FieldDef, Schema

_DEFINED_AT = "2024-01-15T10:00:00Z"


def _field2(field: FieldDef) -> dict[str, Any]:
    """The ``LeadAttribute2Fields`` / ``ObjectField`` shape."""
    data: dict[str, Any] = {
        "name": field.name,
        "displayName": field.display_name,
        "dataType": field.data_type,
    }
    if field.length is not None:
        data["length"] = field.length
    data["updateable"] = field.updateable
    data["crmManaged"] = False
    return data


def leads(schema: Schema) -> list[dict[str, Any]]:
    """``GET /rest/v1/leads/describe.json``: ``LeadAttribute`` items with rest/soap names."""
    result = []
    for number, field in enumerate(schema.lead_fields, start=1):
        item: dict[str, Any] = {
            "id": number,
            "displayName": field.display_name,
            "dataType": field.data_type,
        }
        if field.length is not None:
            item["length"] = field.length
        item["rest"] = {"name": field.name, "readOnly": not field.updateable}
        item["soap"] = {
            "name": field.name[:1].upper() + field.name[1:],
            "readOnly": not field.updateable,
        }
        result.append(item)
    return result


def lead_searchable(schema: Schema) -> list[list[str]]:
    names = ["email", "id"] + [f.name for f in schema.lead_fields if f.lookup]
    return [[name] for name in names]


def leads2(schema: Schema) -> list[dict[str, Any]]:
    """``GET /rest/v1/leads/describe2.json``: one ``LeadAttribute2``."""
    return [
        {
            "name": "API Lead",
            "searchableFields": lead_searchable(schema),
            "fields": [_field2(f) for f in schema.lead_fields],
        }
    ]


def custom_object(definition: CustomObjectDef) -> list[dict[str, Any]]:
    """``GET /rest/v1/customobjects/{apiName}/describe.json``: ``ObjectMetaData``."""
    system = [
        FieldDef("createdAt", "Created At", "datetime", updateable=False),
        FieldDef("marketoGUID", "Marketo GUID", "string", length=36, updateable=False),
        FieldDef("updatedAt", "Updated At", "datetime", updateable=False),
    ]
    return [
        {
            "name": definition.name,
            "apiName": definition.name,
            "displayName": definition.display_name,
            "pluralName": definition.plural_name,
            "description": definition.description,
            "createdAt": _DEFINED_AT,
            "updatedAt": _DEFINED_AT,
            "idField": "marketoGUID",
            "dedupeFields": list(definition.dedupe_fields),
            "searchableFields": [list(definition.dedupe_fields), ["marketoGUID"]],
            "relationships": [],
            "state": "approved",
            # Required by ObjectMetaData (its "required" list) besides "state".
            "status": "approved",
            "version": "approved",
            "fields": [_field2(f) for f in (*system, *definition.fields)],
        }
    ]


def program_members(schema: Schema) -> list[dict[str, Any]]:
    """``GET /rest/v1/programs/members/describe.json``: ``ProgramMemberAttribute2``."""
    return [
        {
            "name": "API Program Member",
            "description": "API Program Member Map",
            "createdAt": _DEFINED_AT,
            "updatedAt": _DEFINED_AT,
            "dedupeFields": ["leadId", "programId"],
            "searchableFields": [["leadId"], ["registrationCode"]],
            "fields": [_field2(f) for f in schema.member_fields],
        }
    ]


def program_members_v1(schema: Schema) -> list[dict[str, Any]]:
    """``GET /rest/v1/program/members/describe.json``: ``ProgramMemberAttribute``."""
    return [{"name": "API Program Member", "fields": [_field2(f) for f in schema.member_fields]}]


def companies(schema: Schema) -> list[dict[str, Any]]:
    """``GET /rest/v1/companies/describe.json``: one ``ObjectMetaData``, matched on
    ``externalCompanyId`` (its dedupe field) or ``id``."""
    return [
        {
            "name": "Company",
            "apiName": "company",
            "displayName": "Company",
            "pluralName": "Companies",
            "description": "Company object",
            "createdAt": _DEFINED_AT,
            "updatedAt": _DEFINED_AT,
            "idField": "id",
            "dedupeFields": ["externalCompanyId"],
            "searchableFields": [["externalCompanyId"], ["id"], ["company"]],
            "relationships": [],
            "status": "approved",
            "version": "approved",
            "fields": [_field2(f) for f in schema.company_fields],
        }
    ]
