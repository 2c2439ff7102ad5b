"""What every object type a load can import into declares, in one place per type.

A type is one module with one :class:`ObjectSpec` subclass and its import
target (a :class:`Target` dataclass): its payload fields, their types and
rules, its command-line options, its describe call, its key fields, its
Marketo paths and parameters and its pre-split checks. Code that needs any of
these asks the type's spec (``REGISTRY[request.object]``) instead of branching
on the name, so a new type cannot fall into another type's branch, and no
module outside the type's own names its fields.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo.describe import Describes, Description
    from workers.marketo.imports import ImportKind, ImportTarget
    from workers.marketo.ingestion import IngestionShape
    from workers.marketo.lookups import Lookups
    from workers.split.header_check import TargetFields

T = TypeVar("T", bound="ImportTarget")
V = TypeVar("V", int, str)

# Marketo's ids (lists, programs) are 32-bit integers.
MAX_ID = 2**31 - 1
# The longest name Marketo takes (a field, partition, object or status name).
NAME_MAX = 255


@dataclass(frozen=True)
class PayloadField(Generic[V]):
    """A payload field of this type's: ``alias`` is its payload name, ``attr`` its
    LoadRequest attribute; ``required`` ones must be given (and not empty) for the type.

    Build one with :func:`id_field`, :func:`text_field` or :func:`choice_field`: the
    payload's validation, its length limits and the ``mkto-bulk load`` option's type
    follow. Two types may declare the same field (the same alias, attribute and type,
    each saying whether it requires it): a load of either takes it, other types refuse it.
    """

    alias: str
    attr: str
    type: type[V]
    required: bool = False
    max_length: int | None = None  # a text field's longest value, in characters
    choices: tuple[str, ...] = ()  # a choice field's values, as Marketo spells them
    case_sensitive: bool = True  # whether a choice must match its case

    def canonical(self, value: str | None, choices: tuple[str, ...] | None = None) -> str | None:
        """A choice field's value as spelled in ``choices`` (None when not one of them)."""
        if value is None:
            return None
        for choice in self.choices if choices is None else choices:
            if value == choice or (not self.case_sensitive and value.lower() == choice.lower()):
                return choice
        return None

    def choice_problem(self, value: object, choices: tuple[str, ...] | None = None) -> str | None:
        """Why ``value`` is not one of a choice field's values (or of ``choices``, a type's
        own among them), naming the field."""
        choices = self.choices if choices is None else choices
        if not choices or not isinstance(value, str) or self.canonical(value, choices) is not None:
            return None
        from workers.payload_text import shown

        *first, last = choices
        spelled = "case-sensitive" if self.case_sensitive else "in any case"
        return f"{self.alias}: must be {', '.join(first)} or {last} ({spelled}), not {shown(value)}"


def id_field(alias: str, attr: str, *, required: bool = False) -> PayloadField[int]:
    """A Marketo id: a JSON integer (never a string or a float) from 1 to ``MAX_ID``."""
    return PayloadField(alias, attr, int, required)


def text_field(
    alias: str, attr: str, *, required: bool = False, max_length: int = NAME_MAX
) -> PayloadField[str]:
    """A string of at most ``max_length`` characters, sendable on (checked at the door)."""
    return PayloadField(alias, attr, str, required, max_length)


def choice_field(
    alias: str, attr: str, choices: tuple[str, ...], *, case_sensitive: bool = True
) -> PayloadField[str]:
    """One of ``choices`` (the type's spec names its default); refused naming the field."""
    return PayloadField(alias, attr, str, False, NAME_MAX, choices, case_sensitive)


@dataclass(frozen=True)
class CliOption:
    """A ``mkto-bulk load`` option that sets one of the type's payload fields (of its type)."""

    flag: str  # e.g. "--list-id"
    field: PayloadField[Any]
    help: str


@dataclass(frozen=True)
class Example:
    """A minimal load of this type: its own payload fields and a file Marketo accepts.

    The docs' example and what the contract tests (tests/objects/) run every spec through.
    A type's example may refer to records an earlier type's example created (the
    contract loads them in registry order): lead ids 1 to 3 are the first example's.
    """

    payload: Mapping[str, object]  # the type's fields, by payload name
    file: str  # a CSV file: a header and three records
    # The file a load through the Data Ingestion API takes, when it is not ``file``.
    ingestion_file: str | None = None


@dataclass(frozen=True)
class Target:
    """What every import target shares: its object type and its file format (checked).

    A type's target subclasses it (a frozen dataclass) with its own parameters
    and Marketo's paths; it is what ``workers.marketo.imports.ImportTarget`` describes.
    """

    object_name: ClassVar[str]  # the spec's name
    format: str = field(default="csv", kw_only=True)

    def __post_init__(self) -> None:
        from workers.marketo.imports import checked_format

        object.__setattr__(self, "format", checked_format(self.format))

    @property
    def kind(self) -> ImportKind:
        from workers.objects import ObjectType

        return ObjectType(self.object_name)


def _declaring(field: PayloadField[Any]) -> str:
    """The object types that take ``field`` (one, or several sharing it), for a message."""
    from workers.objects import SPECS

    names = [spec.name for spec in SPECS if any(f.attr == field.attr for f in spec.fields)]
    return " or ".join(names)


def given(value: object) -> bool:
    """Whether a payload value was given (None and "" were not)."""
    return value is not None and value != ""


class IngestionOnlyTarget(Target):
    """The target of a type Marketo imports only through its Data Ingestion API.

    Its bulk paths are never asked for: a load of the type without ``"api": "ingestion"``
    is refused at the door (``ObjectSpec.bulk_import``).
    """

    def create_path(self) -> str:
        raise self._no_bulk_import()

    def status_path(self, batch_id: int) -> str:
        raise self._no_bulk_import()

    def file_path(self, batch_id: int, which: str) -> str:
        raise self._no_bulk_import()

    def params(self) -> dict[str, str]:
        return {"format": self.format}

    def _no_bulk_import(self) -> Exception:
        from workers.errors import InputError

        return InputError(f"Marketo has no bulk import of {self.object_name}")


class ObjectSpec(ABC, Generic[T]):
    """One object type: subclass it in its own module and add it to ``workers.objects.SPECS``."""

    name: ClassVar[str]  # the payload's "object" value and the --object choice
    member: ClassVar[str]  # its ObjectType member name (upper case)
    fields: ClassVar[tuple[PayloadField[Any], ...]] = ()
    cli_options: ClassVar[tuple[CliOption, ...]] = ()
    example: ClassVar[Example]
    # False: Marketo imports the type only through the Data Ingestion API (its target
    # is an IngestionOnlyTarget), so a load of it must say "api": "ingestion".
    bulk_import: ClassVar[bool] = True
    # A shared choice field's values this type takes, by attribute, when not all of them
    # (Marketo's dedupeBy has other values for each object that takes it).
    own_choices: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def missing(self, values: Mapping[str, object]) -> str | None:
        """The first required field not given, as a message; ``values`` by attribute name."""
        for item in self.fields:
            if item.required and not given(values.get(item.attr)):
                return f"{item.alias}: required when object is {self.name}"
        return None

    def refused(self, values: Mapping[str, object]) -> list[str]:
        """Messages for this type's fields given to a load of a type that does not declare them.

        ``values`` (by attribute name) holds only fields the load's own type does not declare.
        """
        return [
            f"{item.alias}: only applies when object is {_declaring(item)}"
            for item in self.fields
            if given(values.get(item.attr))
        ]

    def invalid(self, values: Mapping[str, object]) -> str | None:
        """Why this type's own values do not go together, as one message naming a field.

        The base checks each choice field's value; a type extends it with its own rules.
        """
        for item in self.fields:
            problem = item.choice_problem(values.get(item.attr), self.choices_of(item))
            if problem:
                return problem
        return None

    def choices_of(self, item: PayloadField[Any]) -> tuple[str, ...]:
        """The values of one of this type's choice fields that this type takes."""
        return self.own_choices.get(item.attr, item.choices)

    @abstractmethod
    def import_target(self, request: LoadRequest) -> T:
        """What Marketo imports into for ``request`` (a request this spec validated)."""

    @abstractmethod
    def describe(self, marketo: Describes, target: T) -> Description:
        """The fields an import file for ``target`` may name in its header."""

    @abstractmethod
    def target_fields(self, request: LoadRequest, description: Description) -> TargetFields:
        """The describe as the header check wants it: the word, field names and key fields."""

    def ingestion_shape(self, target: T) -> IngestionShape | None:
        """How the Data Ingestion API takes this type (None: it cannot; bulk import only)."""
        return None

    def bulk_refusal(self, request: LoadRequest) -> str | None:
        """Why a load of this type cannot go through bulk import as asked (one it has)."""
        return None

    def ingestion_refusal(self, request: LoadRequest) -> str | None:
        """Why a load of this type cannot go through the Data Ingestion API as asked."""
        return None

    def pushed_record_problem(
        self, record: Mapping[str, object], api: str
    ) -> tuple[str, str] | None:
        """``(field, reason)`` when a pushed record cannot go through ``api`` as this type.

        Field names and types are checked against the describe by the queue; this
        is for what only the type knows (a field one API needs). None: it can.
        """
        return None

    def check_parameters(self, marketo: Lookups, target: T) -> None:
        """Raise ParameterError for a value Marketo lacks, before anything is split.

        Each check goes through ``marketo.unless_denied``: a lookup the API
        user may not make is skipped with a warning (the import still checks it).
        """
        return None
