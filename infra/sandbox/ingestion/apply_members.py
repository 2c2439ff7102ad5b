"""Applying program-member syncs and deletes and static-list adds and removes, lead by lead.

Whether the program, status, list and lead exist is only known when the
request runs (it is asynchronous), so those are per-object failures with the
bulk import's wording; removing a lead that is not there is a no-op with a warning.
"""

from __future__ import annotations

from infra.sandbox.config import Schema
from infra.sandbox.ingestion.apply_records import Outcome
from infra.sandbox.ingestion.objects import rules_for
from infra.sandbox.ingestion.shapes import Batch, Item
from infra.sandbox.records import LEAD_NOT_FOUND, Store

NOT_A_MEMBER = "Lead was not a member of the program"
NOT_ON_LIST = "Lead was not on the list"


def _program_problem(item: Item, store: Store, schema: Schema, *, sync: bool) -> str:
    program_id = item.program_id
    assert program_id is not None
    program = schema.programs.get(program_id)
    if program is None:
        return f"Program '{program_id}' not found"
    if sync and item.status not in program.statuses:
        return f"Program status '{item.status}' not found"
    if item.values["leadId"] not in store.leads:
        return LEAD_NOT_FOUND
    return ""


def program_members(batch: Batch, store: Store, schema: Schema, now: float) -> list[Outcome]:
    """Sync: set each lead's status in its program, with any member fields given."""
    rules = rules_for(tuple(f for f in schema.member_fields if f.updateable), (), "")
    outcomes: list[Outcome] = []
    for item in batch.items:
        problem = _program_problem(item, store, schema, sync=True)
        if problem:
            outcomes.append((problem, []))
            continue
        extra = {k: v for k, v in item.values.items() if k != "leadId"}
        checked = rules.check(extra)
        if checked.reason:
            outcomes.append((checked.reason, []))
            continue
        assert item.program_id is not None
        lead_id = item.values["leadId"]
        store.set_member(item.program_id, lead_id, item.status, checked.values, now)
        outcomes.append(("", checked.warnings))
    return outcomes


def program_members_delete(batch: Batch, store: Store, schema: Schema, now: float) -> list[Outcome]:
    """Delete: the lead leaves the program (its status becomes "Not in Program")."""
    outcomes: list[Outcome] = []
    for item in batch.items:
        problem = _program_problem(item, store, schema, sync=False)
        if problem:
            outcomes.append((problem, []))
            continue
        assert item.program_id is not None
        program = store.members.get(item.program_id, {})
        removed = program.pop(item.values["leadId"], None)
        outcomes.append(("", [] if removed is not None else [NOT_A_MEMBER]))
    return outcomes


def lists(batch: Batch, store: Store, schema: Schema, now: float) -> list[Outcome]:
    """Add (``lists``) or remove (``lists/remove``) each lead on the static list."""
    list_id: int = batch.options["list_id"]
    remove = batch.resource == "lists/remove"
    outcomes: list[Outcome] = []
    for item in batch.items:
        lead_id = item.values["leadId"]
        if list_id not in schema.static_lists:
            outcomes.append((f"Static list '{list_id}' not found", []))
        elif lead_id not in store.leads:
            outcomes.append((LEAD_NOT_FOUND, []))
        elif remove:
            members = store.list_members.get(list_id, set())
            warnings = [] if lead_id in members else [NOT_ON_LIST]
            members.discard(lead_id)
            outcomes.append(("", warnings))
        else:
            store.list_members.setdefault(list_id, set()).add(lead_id)
            outcomes.append(("", []))
    return outcomes


APPLIERS = {
    "programmembers": program_members,
    "programmembers/delete": program_members_delete,
    "lists": lists,
    "lists/remove": lists,
}
