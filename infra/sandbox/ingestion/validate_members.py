"""Request-level rules for program members (sync, delete) and static lists (add, remove).

The tables "Program Members sync/delete validation rules" and "Lists ...
validation rules" of data-ingestion.md; objects per request count every lead
reference, across all programs for program members.
"""

from __future__ import annotations

from infra.sandbox.ingestion.answers import invalid
from infra.sandbox.ingestion.shapes import (
    Batch,
    Item,
    Json,
    aliased,
    count_limit,
    key_ci,
    objects,
    only_keys,
    positive_int,
)

NOT_IN_PROGRAM = "not in program"


def program_members(body: Json, limit: int, *, delete: bool) -> Batch:
    """``POST .../programmembers`` (sync: status required) or ``.../programmembers/delete``."""
    only_keys(body, ("programs",), "")
    programs = objects(body.get("programs"), "programs")
    allowed = ("programId", "members", "input") + (() if delete else ("status", "statusName"))
    groups: list[tuple[int, str | None, str, list[Json]]] = []
    total = 0
    for position, program in enumerate(programs):
        where = f"programs[{position}]"
        only_keys(program, allowed, where)
        if "programId" not in program:
            raise invalid(f"{where}.programId is required")
        program_id = positive_int(program["programId"], f"{where}.programId")
        status = None if delete else _status(program, where)
        key, value = aliased(program, ("members", "input"), where)
        members = objects(value, f"{where}.{key}")
        total += len(members)
        groups.append((program_id, status, f"{where}.{key}", members))
    count_limit(total, limit, "members across all programs")
    items: list[Item] = []
    for program_id, status, place, members in groups:
        for position, member in enumerate(members):
            where = f"{place}[{position}]"
            lead_key = key_ci(member, "leadId")
            if lead_key is None:
                raise invalid(f"{where}.leadId is required")
            if delete:
                only_keys(member, (lead_key,), where)
            lead_id = positive_int(member[lead_key], f"{where}.leadId")
            values = {k: v for k, v in member.items() if k != lead_key}
            values["leadId"] = lead_id
            items.append(Item(len(items), where, values, program_id, status))
    resource = "programmembers/delete" if delete else "programmembers"
    return Batch(resource, items)


def _status(program: Json, where: str) -> str:
    key, status = aliased(program, ("status", "statusName"), where)
    if status is None:
        raise invalid(f"{where}.status is required")
    if not isinstance(status, str) or not status.strip():
        raise invalid(f"{where}.{key} must not be blank")
    if status.strip().lower() == NOT_IN_PROGRAM:
        raise invalid(f"{where}.{key} must not be 'Not in Program'; use programmembers/delete")
    return status


def lists(body: Json, limit: int, *, remove: bool) -> Batch:
    """``POST .../lists`` (add) or ``.../lists/remove``: listId and ``leads``/``input``."""
    only_keys(body, ("listId", "leads", "input"), "")
    if "listId" not in body:
        raise invalid("listId is required")
    list_id = positive_int(body["listId"], "listId")
    key, value = aliased(body, ("leads", "input"), "")
    leads = objects(value, key)
    count_limit(len(leads), limit, "leads")
    items: list[Item] = []
    for position, lead in enumerate(leads):
        where = f"{key}[{position}]"
        only_keys(lead, ("leadId", "id"), where)
        name, lead_id = aliased(lead, ("leadId", "id"), where)
        if lead_id is None:
            raise invalid(f"{where}.leadId is required")
        items.append(Item(position, where, {"leadId": positive_int(lead_id, f"{where}.{name}")}))
    return Batch("lists/remove" if remove else "lists", items, {"list_id": list_id})
