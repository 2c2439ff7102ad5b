"""Applying persons, custom objects and companies to the record store, object by object.

Each object gets the bulk import's row rules (objects.check_object, compiled once
per request as objects.rules_for) and the same upserts (records.Store); the
outcome is ("", warnings) or (reason, []). Indexes of existing records are built
once per request, as a bulk job does.
"""

from __future__ import annotations

from typing import Any

from infra.sandbox.config import FieldDef, Schema
from infra.sandbox.ingestion.objects import field_map, rules_for
from infra.sandbox.ingestion.shapes import Batch, key_ci
from infra.sandbox.records import LEAD_NOT_FOUND, MULTIPLE_LEADS, Record, Store

Outcome = tuple[str, list[str]]
LOOKUP_MISSING = "Missing value for lookup field '{key}'"
DEDUPE_MISSING = "missing.dedupe.fields"  # the bulk import's custom-object reason
GUID_MISSING = "Missing value for lookup field 'marketoGUID'"
RECORD_NOT_FOUND = "Record not found"
DEDUPE_CHANGED = "Dedupe fields cannot be changed when deduplicating by marketoGUID"
COMPANY_EXISTS = "Company already exists"
COMPANY_NOT_FOUND = "Company not found"


def _text(definition: FieldDef | None, value: Any) -> str:
    """A comparable form of a stored or given value (emails ignore case)."""
    text = str(value)
    return text.lower() if definition is not None and definition.data_type == "email" else text


def persons(batch: Batch, store: Store, schema: Schema, now: float) -> list[Outcome]:
    fields = field_map(schema.lead_fields)
    dedupe: list[str] = batch.options["dedupe"]
    defs = [fields[name.lower()] for name in dedupe]
    rules = rules_for(schema.lead_fields, tuple(dedupe), LOOKUP_MISSING)
    index: dict[tuple[str, ...], list[int]] | None = None
    if dedupe != ["email"] and "id" not in dedupe:
        index = {}
        for lead_id, lead in store.leads.items():
            if all(lead.get(name) not in (None, "") for name in dedupe):
                key = tuple(_text(d, lead[d.name]) for d in defs)
                index.setdefault(key, []).append(lead_id)
    by_email = index is None and "id" not in dedupe  # the email index is the lookup
    partition = batch.options["partition"]
    outcomes: list[Outcome] = []
    for item in batch.items:
        checked = rules.check(item.values)
        if checked.reason:
            outcomes.append((checked.reason, []))
            continue
        values = checked.values
        if by_email:
            existing = store.email_index.get(_text(defs[0], values[defs[0].name]))
            store.write_lead(existing, values, partition, None, now)
            outcomes.append(("", checked.warnings))
            continue
        key = tuple(_text(d, values[d.name]) for d in defs)
        if "id" in dedupe:
            lead_id = int(str(values["id"]))
            candidates = [lead_id] if lead_id in store.leads else []
            candidates = [c for c in candidates if _same(store.leads[c], defs, key)]
            if not candidates:
                outcomes.append((LEAD_NOT_FOUND, []))
                continue
        else:
            assert index is not None
            candidates = index.get(key, [])
        if len(candidates) > 1:
            outcomes.append((MULTIPLE_LEADS, []))
            continue
        existing = candidates[0] if candidates else None
        lead_id = store.write_lead(existing, values, partition, None, now)
        if existing is None and index is not None:
            index.setdefault(key, []).append(lead_id)
        outcomes.append(("", checked.warnings))
    return outcomes


def _same(record: Record, defs: list[FieldDef], key: tuple[str, ...]) -> bool:
    return all(
        record.get(d.name) is not None and _text(d, record[d.name]) == wanted
        for d, wanted in zip(defs, key, strict=True)
    )


def custom_objects(batch: Batch, store: Store, schema: Schema, now: float) -> list[Outcome]:
    api_name: str = batch.options["api_name"]
    definition = schema.custom_objects[api_name]
    dedupe = list(definition.dedupe_fields)
    table = store.custom.setdefault(api_name, {})
    by_guid = batch.options["dedupe_by"] == "marketoGUID"
    guids = {str(r["marketoGUID"]): k for k, r in table.items()} if by_guid else {}
    rules = rules_for(definition.fields, tuple(dedupe), DEDUPE_MISSING)
    any_rules = rules_for(definition.fields, (), "")
    outcomes: list[Outcome] = []
    for item in batch.items:
        if not by_guid:
            checked = rules.check(item.values)
            if not checked.reason:
                store.upsert_custom(api_name, checked.values, now)
            outcomes.append((checked.reason, [] if checked.reason else checked.warnings))
            continue
        values = dict(item.values)
        guid_key = key_ci(values, "marketoGUID")
        guid = values.pop(guid_key) if guid_key else None
        if not isinstance(guid, str) or not guid.strip():
            outcomes.append((GUID_MISSING, []))
            continue
        checked = any_rules.check(values)
        if checked.reason:
            outcomes.append((checked.reason, []))
            continue
        dedupe_key = guids.get(guid)
        if dedupe_key is None:
            outcomes.append((RECORD_NOT_FOUND, []))
            continue
        record = table[dedupe_key]
        if any(name in checked.values and checked.values[name] != record.get(name)
               for name in dedupe):  # fmt: skip
            outcomes.append((DEDUPE_CHANGED, []))
            continue
        store.upsert_custom(api_name, {**checked.values,
                                       **{n: record[n] for n in dedupe}}, now)  # fmt: skip
        outcomes.append(("", checked.warnings))
    return outcomes


def companies(batch: Batch, store: Store, schema: Schema, now: float) -> list[Outcome]:
    action: str = batch.options["action"]
    by_id = batch.options["dedupe_by"] == "idField"
    key = "id" if by_id else "externalCompanyId"
    rules = rules_for(schema.company_fields, (key,), LOOKUP_MISSING)
    external = {str(r["externalCompanyId"]): cid for cid, r in store.companies.items()
                if r.get("externalCompanyId") not in (None, "")}  # fmt: skip
    outcomes: list[Outcome] = []
    for item in batch.items:
        checked = rules.check(item.values)
        if checked.reason:
            outcomes.append((checked.reason, []))
            continue
        value = str(checked.values[key])
        if by_id:
            existing = int(value) if int(value) in store.companies else None
        else:
            existing = external.get(value)
        if existing is not None and action == "createOnly":
            outcomes.append((COMPANY_EXISTS, []))
            continue
        if existing is None and action == "updateOnly":
            outcomes.append((COMPANY_NOT_FOUND, []))
            continue
        company_id = store.write_company(existing, checked.values, now)
        if not by_id:
            external[value] = company_id
        outcomes.append(("", checked.warnings))
    return outcomes
