"""The object types a load can import into, one spec module each, and their registry.

Adding a type is one module (an :class:`ObjectSpec` subclass) and one line in
``SPECS``; the payload's ``object`` values, ``mkto-bulk load --object`` and its
options, the describe call and the import target all come from here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from workers.objects.base import CliOption, ObjectSpec, PayloadField
from workers.objects.custom_objects import CustomObjects
from workers.objects.leads import Leads
from workers.objects.program_members import ProgramMembers

# Registry order is the order of --object's choices and of payload messages.
SPECS: tuple[ObjectSpec[Any], ...] = (Leads(), CustomObjects(), ProgramMembers())
REGISTRY: dict[str, ObjectSpec[Any]] = {spec.name: spec for spec in SPECS}

# The payload's "object": one member per spec (its value is the spec's name). Code
# never names a member: it looks the spec up (REGISTRY[request.object]) instead.
if TYPE_CHECKING:

    class ObjectType(StrEnum):
        """Members come from SPECS."""

else:
    ObjectType = StrEnum(
        "ObjectType", [(spec.member, spec.name) for spec in SPECS], module=__name__
    )

__all__ = ["REGISTRY", "SPECS", "CliOption", "ObjectSpec", "ObjectType", "PayloadField"]
