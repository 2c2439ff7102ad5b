"""Companies: created or updated through the Data Ingestion API (Marketo has no bulk import).

A company is matched on ``externalCompanyId`` (``dedupeBy`` dedupeFields, the
default) or, for updates only, on Marketo's own ``id`` (``dedupeBy`` idField);
``action`` says whether it may be created, updated, or both. Marketo refuses a
whole request whose objects carry the other key, so a file holding both
columns is refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workers.objects.base import (
    CliOption,
    Example,
    IngestionOnlyTarget,
    ObjectSpec,
    choice_field,
)

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo.describe import Describes, Description
    from workers.marketo.ingestion import IngestionShape
    from workers.split.header_check import TargetFields

# Marketo's words (data-ingestion.md, Companies): action is case-sensitive, dedupeBy is not.
ACTION = choice_field("action", "company_action", ("createOnly", "updateOnly", "createOrUpdate"))
# One payload field for every type that takes Marketo's dedupeBy (one flag, one name): its
# choices are all of Marketo's, and each type refuses those it has not.
DEDUPE_BY = choice_field(
    "dedupeBy", "dedupe_by", ("dedupeFields", "idField", "marketoGUID"), case_sensitive=False
)
DEFAULT_ACTION = "createOrUpdate"
DEFAULT_DEDUPE_BY = "dedupeFields"
BY_ID = "idField"
UPDATE_ONLY = "updateOnly"
# The file's key column for each dedupeBy.
KEY_OF = {DEFAULT_DEDUPE_BY: "externalCompanyId", BY_ID: "id"}
DESCRIBE = "/rest/v1/companies/describe.json"
BOTH_KEYS = (
    "id",
    "a company has id or externalCompanyId, not both (Marketo matches it on one: "
    "externalCompanyId, or id with dedupeBy idField)",
)
NO_KEY = (
    "externalCompanyId",
    "is required (or id, with dedupeBy idField): Marketo matches each company on it",
)


class Companies(ObjectSpec["CompanyImport"]):
    name = "companies"
    member = "COMPANIES"
    fields = (ACTION, DEDUPE_BY)
    own_choices = {DEDUPE_BY.attr: tuple(KEY_OF)}
    bulk_import = False
    cli_options = (
        CliOption("--action", ACTION, "Companies: create, update or both [createOrUpdate]."),
        CliOption(
            "--dedupe-by",
            DEDUPE_BY,
            "Companies: match on externalCompanyId, or on id (updateOnly) [dedupeFields].",
        ),
    )

    example = Example(
        {"action": "createOrUpdate"},
        "externalCompanyId,company,numberOfEmployees\nC-1,Acme,5000\nC-2,Globex,1200\n"
        "C-3,Initech,80\n",
    )

    def invalid(self, values: Mapping[str, object]) -> str | None:
        """Marketo's rule: only updateOnly may match on ``id`` (dedupeBy idField)."""
        problem = super().invalid(values)
        if problem:
            return problem
        action, dedupe_by = _action(values.get(ACTION.attr)), _dedupe_by(values.get(DEDUPE_BY.attr))
        if dedupe_by == BY_ID and action != UPDATE_ONLY:
            return (
                f"{DEDUPE_BY.alias}: {BY_ID} only applies with {ACTION.alias} {UPDATE_ONLY} "
                f"(Marketo creates companies only by externalCompanyId), not {action}"
            )
        return None

    def import_target(self, request: LoadRequest) -> CompanyImport:
        return CompanyImport(
            action=_action(request.option(ACTION)),
            dedupe_by=_dedupe_by(request.option(DEDUPE_BY)),
            format=request.format.value,
        )

    def describe(self, marketo: Describes, target: CompanyImport) -> Description:
        return marketo.describe_path("company", DESCRIBE)

    def target_fields(self, request: LoadRequest, description: Description) -> TargetFields:
        from workers.split.header_check import TargetFields

        dedupe_by = _dedupe_by(request.option(DEDUPE_BY))
        key = KEY_OF[dedupe_by]
        note = f"{DEDUPE_BY.alias} {dedupe_by} matches companies on {key}"
        both = tuple(KEY_OF.values())
        why = "Marketo matches a company on one: " + ", ".join(
            f"{column} with {DEDUPE_BY.alias} {how}" for how, column in KEY_OF.items()
        )
        return TargetFields(
            "companies", sorted(description.field_names), [key], "dedupe", note, both, why
        )

    def pushed_record_problem(
        self, record: Mapping[str, object], api: str
    ) -> tuple[str, str] | None:
        """A pushed company carries exactly one of Marketo's two keys."""
        given = {name.lower() for name, value in record.items() if value is not None}
        keys = [key for key in KEY_OF.values() if key.lower() in given]
        if len(keys) == 2:
            return BOTH_KEYS
        if not keys:
            return NO_KEY
        return None

    def ingestion_shape(self, target: CompanyImport) -> IngestionShape:
        """Companies with the load's action, matched as its dedupeBy says."""
        from workers.marketo.ingestion import OBJECTS, IngestionShape

        body = {ACTION.alias: target.action, DEDUPE_BY.alias: target.dedupe_by, "input": OBJECTS}
        return IngestionShape("/companies", body, required=(KEY_OF[target.dedupe_by],))


@dataclass(frozen=True)
class CompanyImport(IngestionOnlyTarget):
    """Companies, with Marketo's ``action`` and ``dedupeBy`` (as Marketo spells them)."""

    object_name = Companies.name
    action: str = DEFAULT_ACTION
    dedupe_by: str = DEFAULT_DEDUPE_BY


def _action(value: object) -> str:
    return ACTION.canonical(value if isinstance(value, str) else None) or DEFAULT_ACTION


def _dedupe_by(value: object) -> str:
    chosen = DEDUPE_BY.canonical(value if isinstance(value, str) else None, tuple(KEY_OF))
    return chosen or DEFAULT_DEDUPE_BY


SPEC = Companies()  # what the registry (workers.objects) takes from this module
