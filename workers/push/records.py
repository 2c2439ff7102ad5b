"""Each pushed record checked against the object's describe: names, types, size.

A record is a JSON object whose keys are fields of the object (as Marketo
describes it) and whose values fit each field's type: a native JSON value of
the type (an integer for an integer field, ``true``/``false`` for a boolean)
or a string the file importer reads as one (``"42"``, ``"yes"``,
``"2024-06-01"``; see ``workers.importers.ingestion_rows.json_value``).
``null`` leaves the field out, as an empty cell does in a file. A record that
does not pass is refused alone, with its index, its field and why; the
others are queued. Pure functions: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workers.importers.ingestion_rows import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    JsonValue,
    encode,
    json_value,
)
from workers.marketo.describe import Description
from workers.objects import ObjectSpec
from workers.payload_text import shown

INTEGER_RANGE = (-(2**63), 2**63)


@dataclass(frozen=True)
class Refused:
    """A record not queued: its index in the push, the field at fault (if one) and why."""

    index: int
    field: str | None
    reason: str

    @property
    def message(self) -> str:
        where = f"records[{self.index}]"
        return (
            f"{where}: field {self.field}: {self.reason}"
            if self.field
            else f"{where}: {self.reason}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a " + type(value).__name__


def typed_value(value: Any, data_type: str | None) -> JsonValue:
    """``value`` as its field's JSON type; ValueError says why it is not one."""
    kind = (data_type or "string").lower()
    if isinstance(value, str):
        if any("\ud800" <= c <= "\udfff" for c in value):
            raise ValueError("holds a lone surrogate, which cannot be sent as UTF-8")
        return json_value(value, data_type)
    if isinstance(value, bool):
        if kind == "boolean":
            return value
    elif isinstance(value, int):
        if kind in INTEGER_TYPES:
            if not INTEGER_RANGE[0] <= value < INTEGER_RANGE[1]:
                raise ValueError(f"{value} is out of range for an integer")
            return value
        if kind in FLOAT_TYPES:
            return value
    elif isinstance(value, float):
        if kind in FLOAT_TYPES:
            if not math.isfinite(value):
                raise ValueError(f"{value} is not a finite number")
            return value
        if kind in INTEGER_TYPES:
            raise ValueError(f"{value!r} is not an integer")
    raise ValueError(f"is {_kind(value)}; the field's type is {kind}")


def check_record(
    index: int,
    record: Any,
    *,
    spec: ObjectSpec[Any],
    description: Description,
    api: str,
    max_bytes: int,
) -> bytes | Refused:
    """The record as the JSON object to queue (values typed), or why it is refused."""
    if not isinstance(record, dict):
        return Refused(index, None, f"is {_kind(record)}, not a JSON object")
    types = {f.name: f.data_type for f in description.fields}
    typed: dict[str, JsonValue] = {}
    for name, value in record.items():
        if name not in types:
            return Refused(
                index, shown(str(name), quote=False), _unknown(spec, sorted(types), str(name))
            )
        if value is None:
            continue
        try:
            typed[name] = typed_value(value, types[name])
        except ValueError as error:
            return Refused(index, name, str(error))
    if not typed:
        return Refused(index, None, "has no field with a value")
    problem = spec.pushed_record_problem(typed, api)
    if problem is not None:
        return Refused(index, problem[0], problem[1])
    data = encode(typed)
    if len(data) > max_bytes:
        return Refused(
            index,
            None,
            f"is {len(data):,} bytes as JSON; one record may be at most {max_bytes:,} bytes "
            "(a Data Ingestion request holds 1 MB)",
        )
    return data


def check_records(
    records: Sequence[Any],
    *,
    spec: ObjectSpec[Any],
    description: Description,
    api: str,
    max_bytes: int,
) -> tuple[list[bytes], list[Refused]]:
    """The records that pass, in order, and the ones refused."""
    accepted: list[bytes] = []
    refused: list[Refused] = []
    for index, record in enumerate(records):
        checked = check_record(
            index, record, spec=spec, description=description, api=api, max_bytes=max_bytes
        )
        if isinstance(checked, Refused):
            refused.append(checked)
        else:
            accepted.append(checked)
    return accepted, refused


def _unknown(spec: ObjectSpec[Any], known: Sequence[str], name: str) -> str:
    from workers.marketo.lookups import hint

    return f"is not a field of {spec.name}{hint(name, known)}"


def as_cells(record: Mapping[str, JsonValue]) -> dict[str, str]:
    """A queued record as the cells of a CSV row (booleans as true/false)."""
    return {
        name: ("true" if value else "false") if isinstance(value, bool) else str(value)
        for name, value in record.items()
    }
