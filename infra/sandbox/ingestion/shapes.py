"""What a validated request is (a Batch of Items) and the JSON shape checks the validators share.

Every shape error is 4000802 ``Invalid data`` naming the JSON path, e.g.
``programs[1].members[0].leadId must be a positive integer``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from infra.sandbox.ingestion.answers import invalid

Json = dict[str, Any]


@dataclass
class Item:
    """One object of a request, where it was, and the program/list it belongs to."""

    index: int
    where: str
    values: Json
    program_id: int | None = None
    status: str | None = None


@dataclass
class Batch:
    """A request that passed validation: its resource, options and objects in request order."""

    resource: str  # persons | customobjects | companies | programmembers | ... | lists/remove
    items: list[Item]
    options: Json = field(default_factory=dict)


def only_keys(obj: Json, allowed: Iterable[str], where: str) -> None:
    """Refuse keys the docs do not list (a misspelt option would otherwise be ignored)."""
    known = set(allowed)
    for key in obj:
        if key not in known:
            place = f"{where}." if where else ""
            raise invalid(f"unknown key '{place}{key}'")


def aliased(obj: Json, names: tuple[str, ...], where: str) -> tuple[str, Any]:
    """The value under one of the accepted JSON keys (e.g. ``input`` or ``leads``)."""
    present = [name for name in names if name in obj]
    if len(present) > 1:
        given = " and ".join(f"'{name}'" for name in present)
        raise invalid(f"{where or 'body'} has both {given}; give one")
    if not present:
        return names[0], None
    return present[0], obj[present[0]]


def objects(value: Any, where: str) -> list[Json]:
    """A non-empty array of JSON objects ("must not be null or empty")."""
    if value is None:
        raise invalid(f"{where} must not be null or empty")
    if not isinstance(value, list):
        raise invalid(f"{where} must be an array")
    if not value:
        raise invalid(f"{where} must not be null or empty")
    for position, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise invalid(f"{where}[{position}] must be an object")
    return value


def positive_int(value: Any, where: str) -> int:
    """A JSON integer > 0 (booleans, strings and floats are not Longs)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise invalid(f"{where} must be a positive integer")
    return value


def choice(value: Any, allowed: tuple[str, ...], where: str, *, fold: bool = False) -> str:
    """One of the allowed strings; ``fold``: ignoring case (the canonical one is returned)."""
    if isinstance(value, str):
        for option in allowed:
            if value == option or (fold and value.lower() == option.lower()):
                return option
    raise invalid(f"{where} must be one of {', '.join(allowed)}")


def count_limit(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise invalid(f"{count} {what} in one request, at most {limit}")


def key_ci(obj: Json, name: str) -> str | None:
    """The key of ``obj`` that equals ``name`` ignoring case (field names are case-insensitive)."""
    wanted = name.lower()
    return next((key for key in obj if key.lower() == wanted), None)
