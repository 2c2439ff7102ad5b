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
    """A payload field only this type takes: ``alias`` is its payload name, ``attr`` its
    LoadRequest attribute; ``required`` ones must be given (and not empty) for the type.

    Build one with :func:`id_field` or :func:`text_field`: the payload's
    validation, its length limits and the ``mkto-bulk load`` option's type follow.
    """

    alias: str
    attr: str
    type: type[V]
    required: bool = False
    max_length: int | None = None  # a text field's longest value, in characters


def id_field(alias: str, attr: str, *, required: bool = False) -> PayloadField[int]:
    """A Marketo id: a JSON integer (never a string or a float) from 1 to ``MAX_ID``."""
    return PayloadField(alias, attr, int, required)


def text_field(
    alias: str, attr: str, *, required: bool = False, max_length: int = NAME_MAX
) -> PayloadField[str]:
    """A string of at most ``max_length`` characters, sendable on (checked at the door)."""
    return PayloadField(alias, attr, str, required, max_length)


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
    """

    payload: Mapping[str, object]  # the type's fields, by payload name
    file: str  # a CSV file: a header and three records


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


def given(value: object) -> bool:
    """Whether a payload value was given (None and "" were not)."""
    return value is not None and value != ""


class ObjectSpec(ABC, Generic[T]):
    """One object type: subclass it in its own module and add it to ``workers.objects.SPECS``."""

    name: ClassVar[str]  # the payload's "object" value and the --object choice
    member: ClassVar[str]  # its ObjectType member name (upper case)
    fields: ClassVar[tuple[PayloadField[Any], ...]] = ()
    cli_options: ClassVar[tuple[CliOption, ...]] = ()
    example: ClassVar[Example]

    def missing(self, values: Mapping[str, object]) -> str | None:
        """The first required field not given, as a message; ``values`` by attribute name."""
        for item in self.fields:
            if item.required and not given(values.get(item.attr)):
                return f"{item.alias}: required when object is {self.name}"
        return None

    def refused(self, values: Mapping[str, object]) -> list[str]:
        """Messages for this type's fields given to a load of another type."""
        return [
            f"{item.alias}: only applies when object is {self.name}"
            for item in self.fields
            if given(values.get(item.attr))
        ]

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
