"""Members of one program (``programId``), all given one ``programMemberStatus``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from workers.objects.base import CliOption, Example, ObjectSpec, PayloadField, given

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo.describe import Describes, Description
    from workers.marketo.imports import ProgramMemberImport
    from workers.marketo.ingestion import IngestionShape
    from workers.marketo.lookups import Lookups
    from workers.split.header_check import TargetFields

PROGRAM_ID = PayloadField("programId", "program_id", required=True)
STATUS = PayloadField("programMemberStatus", "program_member_status", required=True)


class ProgramMembers(ObjectSpec["ProgramMemberImport"]):
    name = "programmembers"
    member = "PROGRAM_MEMBERS"
    fields = (PROGRAM_ID, STATUS)
    cli_options = (
        CliOption("--program-id", PROGRAM_ID, "Program members: the program.", int),
        CliOption("--program-member-status", STATUS, "Program members: the membership status."),
    )

    example = Example(
        {"programId": 1002, "programMemberStatus": "On List"},
        "email,firstName\nann@example.com,Ann\nbob@example.com,Bob\ncy@example.com,Cy\n",
    )

    def refused(self, values: Mapping[str, object]) -> list[str]:
        # The two travel together: either one given elsewhere is named as programId.
        if any(given(values.get(item.attr)) for item in self.fields):
            return [f"{PROGRAM_ID.alias}: only applies when object is {self.name}"]
        return []

    def import_target(self, request: LoadRequest) -> ProgramMemberImport:
        from workers.marketo.imports import ProgramMemberImport

        assert request.program_id is not None  # required by this spec
        assert request.program_member_status is not None
        return ProgramMemberImport(
            program_id=request.program_id,
            program_member_status=request.program_member_status,
            format=request.format.value,
        )

    def describe(self, marketo: Describes, target: ProgramMemberImport) -> Description:
        return marketo.describe_program_member_file()

    def target_fields(self, request: LoadRequest, description: Description) -> TargetFields:
        from workers.split.header_check import TargetFields

        names = sorted(description.field_names)
        return TargetFields("program members", names, ["email"], "lookup")

    def check_parameters(self, marketo: Lookups, target: ProgramMemberImport) -> None:
        marketo.check_program_parameters(target)

    def ingestion_shape(self, target: ProgramMemberImport) -> IngestionShape:
        """Members of the one program, by ``leadId`` (the file must have that column)."""
        from workers.marketo.ingestion import OBJECTS, IngestionShape

        program = {
            "programId": target.program_id,
            "status": target.program_member_status,
            "members": OBJECTS,
        }
        return IngestionShape("/programmembers", {"programs": [program]})
