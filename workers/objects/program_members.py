"""Members of one program (``programId``), all given one ``programMemberStatus``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workers.errors import ParameterError
from workers.objects.base import (
    CliOption,
    Example,
    ObjectSpec,
    Target,
    given,
    id_field,
    text_field,
)

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo.describe import Describes, Description
    from workers.marketo.ingestion import IngestionShape
    from workers.marketo.lookups import Lookups
    from workers.split.header_check import TargetFields

PROGRAM_ID = id_field("programId", "program_id", required=True)
STATUS = text_field("programMemberStatus", "program_member_status", required=True)
MEMBERS_DESCRIBE = "/rest/v1/programs/members/describe.json"
LEAD_ID = "leadId"  # how the Data Ingestion API names a member


class ProgramMembers(ObjectSpec["ProgramMemberImport"]):
    name = "programmembers"
    member = "PROGRAM_MEMBERS"
    fields = (PROGRAM_ID, STATUS)
    cli_options = (
        CliOption("--program-id", PROGRAM_ID, "Program members: the program."),
        CliOption("--program-member-status", STATUS, "Program members: the membership status."),
    )

    example = Example(
        {"programId": 1002, "programMemberStatus": "On List"},
        "email,firstName\nann@example.com,Ann\nbob@example.com,Bob\ncy@example.com,Cy\n",
        ingestion_file="leadId\n1\n2\n3\n",  # the Data Ingestion API takes lead ids
    )

    def refused(self, values: Mapping[str, object]) -> list[str]:
        # The two travel together: either one given elsewhere is named as programId.
        if any(given(values.get(item.attr)) for item in self.fields):
            return [f"{PROGRAM_ID.alias}: only applies when object is {self.name}"]
        return []

    def import_target(self, request: LoadRequest) -> ProgramMemberImport:
        return ProgramMemberImport(
            program_id=request.required(PROGRAM_ID),
            program_member_status=request.required(STATUS),
            format=request.format.value,
        )

    def describe(self, marketo: Describes, target: ProgramMemberImport) -> Description:
        """Program member files hold lead fields and program member custom fields."""
        members = marketo.describe_path("programMember", MEMBERS_DESCRIBE)
        return marketo.describe_leads().merged(members, "programMember")

    def target_fields(self, request: LoadRequest, description: Description) -> TargetFields:
        from workers.split.header_check import TargetFields

        names = sorted(description.field_names)
        if request.api == "ingestion":
            note = "the Data Ingestion API adds program members by their Marketo lead id"
            return TargetFields("program members", names, ["leadId"], "member", note)
        return TargetFields("program members", names, ["email"], "lookup")

    def check_parameters(self, marketo: Lookups, target: ProgramMemberImport) -> None:
        """``programId`` names a program and ``programMemberStatus`` a status of its channel."""
        both = f"{PROGRAM_ID.alias}/{STATUS.alias}"
        marketo.unless_denied(both, lambda: _check_program(marketo, target))

    def pushed_record_problem(
        self, record: Mapping[str, object], api: str
    ) -> tuple[str, str] | None:
        """The Data Ingestion API takes members by ``leadId`` only."""
        if api == "ingestion" and record.get(LEAD_ID) is None:
            return LEAD_ID, "is required: the Data Ingestion API takes program members by leadId"
        return None

    def ingestion_shape(self, target: ProgramMemberImport) -> IngestionShape:
        """Members of the one program, by ``leadId`` (the file must have that column)."""
        from workers.marketo.ingestion import OBJECTS, IngestionShape

        program = {
            "programId": target.program_id,
            "status": target.program_member_status,
            "members": OBJECTS,
        }
        return IngestionShape("/programmembers", {"programs": [program]})


@dataclass(frozen=True)
class ProgramMemberImport(Target):
    """Members of program ``program_id``, all given ``program_member_status`` (e.g. "On List")."""

    object_name = ProgramMembers.name
    program_id: int
    program_member_status: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.program_member_status:
            raise ValueError("program_member_status is required for a program member import")

    def create_path(self) -> str:
        return f"/bulk/v1/program/{int(self.program_id)}/members/import.json"

    def status_path(self, batch_id: int) -> str:
        return f"/bulk/v1/program/members/import/{int(batch_id)}/status.json"

    def file_path(self, batch_id: int, which: str) -> str:
        return f"/bulk/v1/program/members/import/{int(batch_id)}/{which}.json"

    def params(self) -> dict[str, str]:
        return {"format": self.format, STATUS.alias: self.program_member_status}


def _check_program(marketo: Lookups, target: ProgramMemberImport) -> None:
    from workers.marketo.lookups import hint, quoted

    program_id, status = target.program_id, target.program_member_status
    program = marketo.program(program_id)
    if program is None:
        raise ParameterError(PROGRAM_ID.alias, str(program_id), "no such program in Marketo")
    channel = marketo.channel_with(program.channel, status)
    if channel is None:
        reason = f"program {program_id}'s channel {quoted(program.channel)} is not in Marketo"
        raise ParameterError(STATUS.alias, quoted(status), reason)
    if status not in channel.statuses:
        reason = f"not a status of program {program_id}'s channel" + hint(status, channel.statuses)
        raise ParameterError(STATUS.alias, quoted(status), reason)


SPEC = ProgramMembers()  # what the registry (workers.objects) takes from this module
