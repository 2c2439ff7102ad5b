"""Leads: matched on ``lookupField`` (email by default), optionally into a list and partition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers.objects.base import CliOption, Example, ObjectSpec, PayloadField

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo.describe import Describes, Description
    from workers.marketo.imports import LeadImport
    from workers.marketo.ingestion import IngestionShape
    from workers.marketo.lookups import Lookups
    from workers.split.header_check import TargetFields

LOOKUP_FIELD = PayloadField("lookupField", "lookup_field")
LIST_ID = PayloadField("listId", "list_id")
PARTITION_NAME = PayloadField("partitionName", "partition_name")
DEFAULT_LOOKUP = "email"


class Leads(ObjectSpec["LeadImport"]):
    name = "leads"
    member = "LEADS"
    fields = (LOOKUP_FIELD, LIST_ID, PARTITION_NAME)
    cli_options = (
        CliOption("--lookup-field", LOOKUP_FIELD, "Leads: the field that matches records."),
        CliOption("--list-id", LIST_ID, "Leads: add the leads to this static list.", int),
        CliOption("--partition-name", PARTITION_NAME, "Leads: the lead partition."),
    )

    example = Example(
        {"lookupField": "email"},
        "email,firstName,lastName\nann@example.com,Ann,Able\nbob@example.com,Bob,Baker\n"
        "cy@example.com,Cy,Cole\n",
    )

    def import_target(self, request: LoadRequest) -> LeadImport:
        from workers.marketo.imports import LeadImport

        return LeadImport(
            format=request.format.value,
            lookup_field=request.lookup_field,
            list_id=request.list_id,
            partition_name=request.partition_name,
        )

    def describe(self, marketo: Describes, target: LeadImport) -> Description:
        return marketo.describe_leads()

    def target_fields(self, request: LoadRequest, description: Description) -> TargetFields:
        from workers.split.header_check import TargetFields

        keys = [request.lookup_field or DEFAULT_LOOKUP]
        return TargetFields("leads", sorted(description.field_names), keys, "lookup")

    def check_parameters(self, marketo: Lookups, target: LeadImport) -> None:
        marketo.check_lead_parameters(target)

    def ingestion_shape(self, target: LeadImport) -> IngestionShape:
        """Persons, deduplicated on the lookup field, into the partition if one is named."""
        from workers.marketo.ingestion import OBJECTS, IngestionShape

        body: dict[str, object] = {
            "dedupeFields": {"field1": target.lookup_field or DEFAULT_LOOKUP}
        }
        if target.partition_name:
            body["partitionName"] = target.partition_name
        return IngestionShape("/persons", {**body, "persons": OBJECTS})
