"""The object types a load can import into, one spec module each, and their registry.

Adding a type is one module (an :class:`ObjectSpec` subclass, instantiated as
the module's ``SPEC``) and its name in ``SPEC_MODULES``: the payload's
``object`` values, ``mkto-bulk load --object`` and its options, the describe
call and the import target all come from here.
"""

from __future__ import annotations

from enum import StrEnum
from importlib import import_module
from typing import TYPE_CHECKING, Any

from workers.objects.base import CliOption, ObjectSpec, PayloadField

# One line per type: its module in this package. Registry order is the order of
# --object's choices and of payload messages.
SPEC_MODULES = (
    "leads",
    "custom_objects",
    "program_members",
    "companies",
    "list_members",
)
SPECS: tuple[ObjectSpec[Any], ...] = tuple(
    import_module(f"{__name__}.{module}").SPEC for module in SPEC_MODULES
)
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
