"""The in-memory database: leads, custom object records, program members, companies,
static-list memberships, and upserts.

An import is an insert-or-update keyed by the lookup/dedupe field, applied when
the job finishes, in finish order, exactly as Marketo's FIFO queue would. The
Data Ingestion API (infra/sandbox/ingestion) writes through the same methods.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from infra.sandbox.clock import iso_utc
from infra.sandbox.config import Schema

Record = dict[str, Any]
LEAD_NOT_FOUND = "Lead not found"
MULTIPLE_LEADS = "Multiple leads match the lookup criteria"


@dataclass
class ImportTarget:
    """What a job writes to: its kind and the parameters given at creation."""

    kind: str  # "leads" | "customobject" | "program_members"
    object_name: str  # "leads", the custom object's apiName, or "program_members"
    lookup_field: str = "email"
    list_id: int | None = None
    partition: str | None = None
    program_id: int | None = None
    member_status: str | None = None


@dataclass
class Store:
    """All records of the instance; the caller holds the state lock."""

    schema: Schema
    leads: dict[int, Record] = field(default_factory=dict)
    email_index: dict[str, int] = field(default_factory=dict)
    next_lead_id: int = 1
    list_members: dict[int, set[int]] = field(default_factory=dict)
    custom: dict[str, dict[tuple[Any, ...], Record]] = field(default_factory=dict)
    members: dict[int, dict[int, Record]] = field(default_factory=dict)
    companies: dict[int, Record] = field(default_factory=dict)
    next_company_id: int = 1

    def reset(self) -> None:
        self.leads.clear()
        self.email_index.clear()
        self.next_lead_id = 1
        self.list_members.clear()
        self.custom = {name: {} for name in self.schema.custom_objects}
        self.members.clear()
        self.companies.clear()
        self.next_company_id = 1

    def counts(self) -> dict[str, int]:
        counts = {"leads": len(self.leads)}
        for name in self.schema.custom_objects:
            counts[name] = len(self.custom.get(name, {}))
        counts["program_members"] = sum(len(m) for m in self.members.values())
        return counts

    def all_records(self, name: str) -> Iterable[Record] | None:
        if name == "leads":
            return self.leads.values()
        if name == "program_members":
            return (m for program in self.members.values() for m in program.values())
        if name == "companies":
            return self.companies.values()
        if name == "list_members":
            return (
                {"listId": list_id, "leadId": lead_id}
                for list_id, leads in sorted(self.list_members.items())
                for lead_id in sorted(leads)
            )
        if name in self.schema.custom_objects:
            return self.custom.get(name, {}).values()
        return None

    # -- leads -----------------------------------------------------------------------------

    def lead_index(self, lookup: str) -> dict[str, list[int]]:
        """Lookup value -> lead ids for a lookup field other than id/email (built per job)."""
        index: dict[str, list[int]] = {}
        for lead_id, lead in self.leads.items():
            value = lead.get(lookup)
            if value not in (None, ""):
                index.setdefault(str(value), []).append(lead_id)
        return index

    def upsert_lead(
        self,
        values: Record,
        target: ImportTarget,
        now: float,
        index: dict[str, list[int]] | None = None,
    ) -> tuple[int | None, str]:
        """(lead id, "") on success, (None, reason) when the row fails."""
        lookup = target.lookup_field
        existing: int | None
        if lookup == "id":
            existing = int(values["id"])
            if existing not in self.leads:
                return None, LEAD_NOT_FOUND
        elif lookup == "email":
            existing = self.email_index.get(str(values["email"]).lower())
        else:
            matches = (index or {}).get(str(values[lookup]), [])
            if len(matches) > 1:
                return None, MULTIPLE_LEADS
            existing = matches[0] if matches else None
        created = existing is None
        existing = self.write_lead(existing, values, target.partition, target.list_id, now)
        if created and index is not None and lookup not in ("id", "email"):
            index.setdefault(str(values[lookup]), []).append(existing)
        return existing, ""

    def write_lead(
        self,
        existing: int | None,
        values: Record,
        partition: str | None,
        list_id: int | None,
        now: float,
    ) -> int:
        """Update lead ``existing`` (or create one when None) and keep the email index."""
        stamp = iso_utc(now)
        if existing is None:
            existing = self.next_lead_id
            self.next_lead_id += 1
            lead: Record = {"id": existing, "createdAt": stamp}
            if partition:
                lead["partitionName"] = partition
            self.leads[existing] = lead
        lead = self.leads[existing]
        old_email = lead.get("email")
        if "id" in values:
            lead.update((k, v) for k, v in values.items() if k != "id")
        else:
            lead.update(values)
        lead["updatedAt"] = stamp
        email = lead.get("email")
        old_key = str(old_email).lower()
        if email != old_email and old_email and self.email_index.get(old_key) == existing:
            del self.email_index[old_key]
        if email:
            self.email_index[str(email).lower()] = existing
        if list_id is not None:
            self.list_members.setdefault(list_id, set()).add(existing)
        return existing

    # -- custom objects ----------------------------------------------------------------------

    def upsert_custom(self, api_name: str, values: Record, now: float) -> str:
        definition = self.schema.custom_objects[api_name]
        key = tuple(values[name] for name in definition.dedupe_fields)
        table = self.custom.setdefault(api_name, {})
        stamp = iso_utc(now)
        record = table.get(key)
        if record is None:
            record = {"marketoGUID": str(uuid.uuid4()), "createdAt": stamp}
            table[key] = record
        record.update(values)
        record["updatedAt"] = stamp
        return ""

    # -- program members ---------------------------------------------------------------------

    def upsert_member(self, values: Record, target: ImportTarget, now: float) -> str:
        """Lead upserted by email (created if missing), then its membership in the program."""
        assert target.program_id is not None
        member_names = {f.name for f in self.schema.member_fields if f.updateable}
        lead_values = {k: v for k, v in values.items() if k not in member_names}
        member_values = {k: v for k, v in values.items() if k in member_names}
        lead_target = ImportTarget("leads", "leads", lookup_field="email")
        lead_id, reason = self.upsert_lead(lead_values, lead_target, now)
        if lead_id is None:
            return reason
        self.set_member(target.program_id, lead_id, target.member_status, member_values, now)
        return ""

    def set_member(
        self, program_id: int, lead_id: int, status: str | None, values: Record, now: float
    ) -> None:
        """Make an existing lead a member of the program with this status (insert or update)."""
        program = self.members.setdefault(program_id, {})
        member = program.get(lead_id)
        stamp = iso_utc(now)
        if member is None:
            member = {"leadId": lead_id, "programId": program_id, "membershipDate": stamp}
            program[lead_id] = member
        member.update(values)
        member["email"] = self.leads[lead_id].get("email")
        member["statusName"] = status
        member["updatedAt"] = stamp

    # -- companies ---------------------------------------------------------------------------

    def write_company(self, existing: int | None, values: Record, now: float) -> int:
        """Update company ``existing`` (or create one when None); ``id`` is never written."""
        stamp = iso_utc(now)
        if existing is None:
            existing = self.next_company_id
            self.next_company_id += 1
            self.companies[existing] = {"id": existing, "createdAt": stamp}
        company = self.companies[existing]
        company.update((k, v) for k, v in values.items() if k != "id")
        company["updatedAt"] = stamp
        return existing


def matches(record: Record, filters: dict[str, str]) -> bool:
    """Admin filter: string equality, case-insensitive for email-like values."""
    for name, wanted in filters.items():
        value = record.get(name)
        if value is None:
            return False
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if "@" in text or name.lower().endswith("email"):
            if text.lower() != wanted.lower():
                return False
        elif text != wanted:
            return False
    return True
