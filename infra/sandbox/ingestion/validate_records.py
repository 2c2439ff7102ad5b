"""Request-level rules for persons, custom objects and companies (data-ingestion.md).

What a body must look like is checked here, before the 202; what each object's
values mean (types, lookups) is checked when the request is applied, per object.
"""

from __future__ import annotations

from infra.sandbox.config import Schema
from infra.sandbox.ingestion.answers import invalid
from infra.sandbox.ingestion.shapes import (
    Batch,
    Item,
    Json,
    aliased,
    choice,
    count_limit,
    key_ci,
    objects,
    only_keys,
    positive_int,
)

PRIORITIES = ("normal", "high")
CO_DEDUPE = ("dedupeFields", "marketoGUID")
ACTIONS = ("createOnly", "updateOnly", "createOrUpdate")
COMPANY_DEDUPE = ("dedupeFields", "idField")
# Standard lead attributes the docs allow as dedupe fields, whatever their data type.
PERSON_DEDUPE_STANDARD = (
    "id", "email", "sfdcAccountId", "sfdcContactId", "sfdcLeadId", "sfdcLeadOwnerId",
)  # fmt: skip


def _priority(body: Json) -> str:
    if "priority" not in body:
        return "normal"
    return choice(body["priority"], PRIORITIES, "priority")


def _items(values: list[Json], key: str, limit: int) -> list[Item]:
    count_limit(len(values), limit, "objects")
    return [Item(n, f"{key}[{n}]", obj) for n, obj in enumerate(values)]


def persons(body: Json, schema: Schema, limit: int) -> Batch:
    """``POST .../persons``: ``persons`` plus optional priority, partitionName, dedupeFields."""
    only_keys(body, ("priority", "partitionName", "dedupeFields", "persons"), "")
    priority = _priority(body)
    partition = body.get("partitionName", "Default")
    if not isinstance(partition, str) or partition not in schema.partitions:
        raise invalid(f"partitionName '{partition}' not found")
    dedupe = _person_dedupe(body.get("dedupeFields"), schema)
    items = _items(objects(body.get("persons"), "persons"), "persons", limit)
    options = {"priority": priority, "partition": partition, "dedupe": dedupe}
    return Batch("persons", items, options)


def _person_dedupe(value: object, schema: Schema) -> list[str]:
    """One or two lead attributes: id, email, sfdc ids, or string/integer fields (AND)."""
    if value is None:
        return ["email"]
    if not isinstance(value, dict) or not value:
        raise invalid("dedupeFields must be an object with field1 and optional field2")
    only_keys(value, ("field1", "field2"), "dedupeFields")
    if "field1" not in value:
        raise invalid("dedupeFields.field1 is required")
    names: list[str] = []
    for key in ("field1", "field2"):
        if key not in value:
            continue
        name = value[key]
        definition = schema.lead_field(name) if isinstance(name, str) else None
        allowed = definition is not None and (
            definition.name in PERSON_DEDUPE_STANDARD
            or definition.data_type in ("string", "integer")
        )
        if definition is None or not allowed:
            raise invalid(f"dedupeFields.{key} '{name}' is not a lead field to deduplicate on")
        if name in names:
            raise invalid("dedupeFields.field2 repeats field1")
        names.append(name)
    return names


def custom_objects(body: Json, api_name: str, limit: int) -> Batch:
    """``POST .../customobjects/{apiName}``: ``customObjects``, priority, dedupeBy."""
    only_keys(body, ("priority", "dedupeBy", "customObjects"), "")
    priority = _priority(body)
    dedupe_by = "dedupeFields"
    if "dedupeBy" in body:
        dedupe_by = choice(body["dedupeBy"], CO_DEDUPE, "dedupeBy")
    values = objects(body.get("customObjects"), "customObjects")
    items = _items(values, "customObjects", limit)
    return Batch(f"customobjects/{api_name}", items,
                 {"priority": priority, "dedupe_by": dedupe_by, "api_name": api_name})  # fmt: skip


def companies(body: Json, limit: int) -> Batch:
    """``POST .../companies``: the "Companies validation rules" table, in its order."""
    only_keys(body, ("action", "dedupeBy", "input", "companies"), "")
    action = "createOrUpdate"
    if "action" in body:
        action = choice(body["action"], ACTIONS, "action")
    dedupe_by = "dedupeFields"
    if "dedupeBy" in body:
        dedupe_by = choice(body["dedupeBy"], COMPANY_DEDUPE, "dedupeBy", fold=True)
    if dedupe_by == "idField" and action != "updateOnly":
        raise invalid(f"dedupeBy idField is only allowed with action updateOnly, not {action}")
    key, value = aliased(body, ("input", "companies"), "")
    values = objects(value, key)
    items = _items(values, key, limit)
    for position, company in enumerate(values):
        where = f"{key}[{position}]"
        external = key_ci(company, "externalCompanyId")
        own_id = key_ci(company, "id")
        if dedupe_by == "dedupeFields":
            text = company[external] if external else None
            if not isinstance(text, str) or not text.strip():
                raise invalid(f"{where}.externalCompanyId is required with dedupeBy dedupeFields")
            if own_id is not None:
                raise invalid(f"{where}.id is not allowed with dedupeBy dedupeFields")
        else:
            if own_id is None:
                raise invalid(f"{where}.id is required with dedupeBy idField")
            positive_int(company[own_id], f"{where}.id")
            if external is not None:
                raise invalid(f"{where}.externalCompanyId is not allowed with dedupeBy idField")
    return Batch("companies", items, {"action": action, "dedupe_by": dedupe_by})
