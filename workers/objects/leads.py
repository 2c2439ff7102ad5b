"""Leads: matched on ``lookupField`` (email by default), optionally into a list and partition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workers.errors import ParameterError
from workers.objects.base import (
    CliOption,
    Example,
    ObjectSpec,
    Target,
    id_field,
    text_field,
)

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo.describe import Describes, Description
    from workers.marketo.ingestion import IngestionShape
    from workers.marketo.lookups import Lookups
    from workers.split.header_check import TargetFields

LOOKUP_FIELD = text_field("lookupField", "lookup_field")
LIST_ID = id_field("listId", "list_id")
PARTITION_NAME = text_field("partitionName", "partition_name")
DEFAULT_LOOKUP = "email"


class Leads(ObjectSpec["LeadImport"]):
    name = "leads"
    member = "LEADS"
    fields = (LOOKUP_FIELD, LIST_ID, PARTITION_NAME)
    cli_options = (
        CliOption("--lookup-field", LOOKUP_FIELD, "Leads: the field that matches records."),
        CliOption("--list-id", LIST_ID, "Leads: add the leads to this static list."),
        CliOption("--partition-name", PARTITION_NAME, "Leads: the lead partition."),
    )

    example = Example(
        {"lookupField": "email"},
        "email,firstName,lastName\nann@example.com,Ann,Able\nbob@example.com,Bob,Baker\n"
        "cy@example.com,Cy,Cole\n",
    )

    def import_target(self, request: LoadRequest) -> LeadImport:
        return LeadImport(
            format=request.format.value,
            lookup_field=request.option(LOOKUP_FIELD),
            list_id=request.option(LIST_ID),
            partition_name=request.option(PARTITION_NAME),
        )

    def describe(self, marketo: Describes, target: LeadImport) -> Description:
        return marketo.describe_leads()

    def target_fields(self, request: LoadRequest, description: Description) -> TargetFields:
        from workers.split.header_check import TargetFields

        keys = [request.option(LOOKUP_FIELD) or DEFAULT_LOOKUP]
        return TargetFields("leads", sorted(description.field_names), keys, "lookup")

    def check_parameters(self, marketo: Lookups, target: LeadImport) -> None:
        """``listId`` names a static list and ``partitionName`` a lead partition."""
        if target.list_id is not None:
            marketo.unless_denied(LIST_ID.alias, lambda: _check_list(marketo, target.list_id))
        if target.partition_name:
            name = target.partition_name
            marketo.unless_denied(PARTITION_NAME.alias, lambda: _check_partition(marketo, name))

    def ingestion_refusal(self, request: LoadRequest) -> str | None:
        if request.option(LIST_ID) is not None:
            return (
                f"{LIST_ID.alias}: the Data Ingestion API does not add persons to a static "
                "list as it imports them (leave out api to use bulk import)"
            )
        return None

    def ingestion_shape(self, target: LeadImport) -> IngestionShape:
        """Persons, deduplicated on the lookup field, into the partition if one is named."""
        from workers.marketo.ingestion import OBJECTS, IngestionShape

        dedupe = {"field1": target.lookup_field or DEFAULT_LOOKUP}
        body: dict[str, object] = {"dedupeFields": dedupe}
        if target.partition_name:
            body[PARTITION_NAME.alias] = target.partition_name
        return IngestionShape("/persons", {**body, "persons": OBJECTS})


@dataclass(frozen=True)
class LeadImport(Target):
    """Leads, with ``lookupField`` (default email; ``id`` means update only), ``listId``
    (a static list to add them to) and ``partitionName``.
    """

    object_name = Leads.name
    lookup_field: str | None = None
    list_id: int | None = None
    partition_name: str | None = None

    def create_path(self) -> str:
        return "/bulk/v1/leads.json"

    def status_path(self, batch_id: int) -> str:
        return f"/bulk/v1/leads/batch/{int(batch_id)}.json"

    def file_path(self, batch_id: int, which: str) -> str:
        return f"/bulk/v1/leads/batch/{int(batch_id)}/{which}.json"

    def params(self) -> dict[str, str]:
        params = {"format": self.format}
        if self.lookup_field:
            params[LOOKUP_FIELD.alias] = self.lookup_field
        if self.list_id is not None:
            params[LIST_ID.alias] = str(int(self.list_id))
        if self.partition_name:
            params[PARTITION_NAME.alias] = self.partition_name
        return params


def _check_list(marketo: Lookups, list_id: int | None) -> None:
    if list_id is not None and marketo.static_list(list_id) is None:
        raise ParameterError(LIST_ID.alias, str(list_id), "no such static list in Marketo")


def _check_partition(marketo: Lookups, name: str) -> None:
    from workers.marketo.lookups import hint, quoted

    known = marketo.names_with(name, marketo.lead_partitions)
    if name not in known:
        reason = "not a lead partition" + hint(name, known)
        raise ParameterError(PARTITION_NAME.alias, quoted(name), reason)


SPEC = Leads()  # what the registry (workers.objects) takes from this module
