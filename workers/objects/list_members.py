"""Members of one static list (``listId``): Marketo lead ids added to it or removed from it.

Only the Data Ingestion API has this object (``POST .../lists`` and
``.../lists/remove``); each row is one Marketo lead id, in a ``leadId``
column, and nothing else. ``listId`` is the same payload field a lead load
takes (to add the persons it imports to a list): one name for one thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workers.errors import ParameterError
from workers.objects.base import (
    CliOption,
    Example,
    IngestionOnlyTarget,
    ObjectSpec,
    choice_field,
    id_field,
)

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo.describe import Describes, Description
    from workers.marketo.ingestion import IngestionShape
    from workers.marketo.lookups import Lookups
    from workers.split.header_check import TargetFields

LIST_ID = id_field("listId", "list_id", required=True)  # a lead load's too (optional there)
LIST_ACTION = choice_field("listAction", "list_action", ("add", "remove"))
DEFAULT_LIST_ACTION = "add"
LEAD_ID = "leadId"  # the file's one column: Marketo's lead id (an integer)
PATHS = {"add": "/lists", "remove": "/lists/remove"}


class ListMembers(ObjectSpec["ListMemberImport"]):
    name = "listmembers"
    member = "LIST_MEMBERS"
    fields = (LIST_ID, LIST_ACTION)
    bulk_import = False
    cli_options = (
        CliOption("--list-id", LIST_ID, "List members: the static list."),
        CliOption(
            "--list-action", LIST_ACTION, "List members: add the lead ids or remove them [add]."
        ),
    )

    example = Example({"listId": 501}, "leadId\n1\n2\n3\n")

    def import_target(self, request: LoadRequest) -> ListMemberImport:
        return ListMemberImport(
            list_id=request.required(LIST_ID),
            list_action=LIST_ACTION.canonical(request.option(LIST_ACTION)) or DEFAULT_LIST_ACTION,
            format=request.format.value,
        )

    def describe(self, marketo: Describes, target: ListMemberImport) -> Description:
        """One field, the lead id: what the API takes per lead (Marketo has no describe for it)."""
        from workers.marketo.describe import Description, FieldInfo

        field = FieldInfo(LEAD_ID, "integer", "Lead Id", updateable=False)
        return Description("list member", (field,), LEAD_ID, (LEAD_ID,))

    def target_fields(self, request: LoadRequest, description: Description) -> TargetFields:
        from workers.split.header_check import TargetFields

        note = "the Data Ingestion API adds to a static list and removes from it by lead id"
        names = sorted(description.field_names)
        return TargetFields("list members", names, [LEAD_ID], "member", note)

    def check_parameters(self, marketo: Lookups, target: ListMemberImport) -> None:
        """``listId`` names a static list."""
        marketo.unless_denied(LIST_ID.alias, lambda: _check_list(marketo, target.list_id))

    def pushed_record_problem(
        self, record: Mapping[str, object], api: str
    ) -> tuple[str, str] | None:
        """A pushed member is a Marketo lead id: a static list takes or drops members by it."""
        if record.get(LEAD_ID) is None:
            return LEAD_ID, "is required: a static list's members are Marketo lead ids"
        return None

    def ingestion_shape(self, target: ListMemberImport) -> IngestionShape:
        """The lead ids, added to the list or removed from it."""
        from workers.marketo.ingestion import OBJECTS, IngestionShape

        body = {LIST_ID.alias: target.list_id, "input": OBJECTS}
        return IngestionShape(PATHS[target.list_action], body, required=(LEAD_ID,))


@dataclass(frozen=True)
class ListMemberImport(IngestionOnlyTarget):
    """Lead ids added to (``list_action`` add) or removed from (remove) static list ``list_id``."""

    object_name = ListMembers.name
    list_id: int
    list_action: str = DEFAULT_LIST_ACTION

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.list_action not in PATHS:
            raise ValueError(f"list_action must be add or remove, not {self.list_action!r}")


def _check_list(marketo: Lookups, list_id: int) -> None:
    if marketo.static_list(list_id) is None:
        raise ParameterError(LIST_ID.alias, str(list_id), "no such static list in Marketo")


SPEC = ListMembers()  # what the registry (workers.objects) takes from this module
