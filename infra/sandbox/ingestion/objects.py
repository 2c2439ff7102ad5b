"""One JSON object under the bulk import's row rules (rows.convert): types, keys, lengths.

JSON values are turned into the text a CSV cell would hold, so a value that a
bulk import refuses is refused here with the same reason, and one it truncates
or warns about is truncated or warned about the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from infra.sandbox.config import FieldDef
from infra.sandbox.rows import RowResult, convert


def field_map(fields: Iterable[FieldDef]) -> dict[str, FieldDef]:
    """Fields by lower-case name: ingestion field names are case-insensitive."""
    return {definition.name.lower(): definition for definition in fields}


def cell_text(value: Any) -> str | None:
    """The CSV cell for a JSON scalar; None for an array or object (no field holds one)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    return None


def check_object(
    obj: dict[str, Any], fields: dict[str, FieldDef], keys: list[str], missing_reason: str
) -> RowResult:
    """The row rules for one object, in their order: keys present, types, then warnings.

    ``missing_reason`` may name ``{key}``. Unknown fields are ignored with a
    warning; null and "" are not written (like an empty cell); read-only
    fields are not written unless they are a key.
    """
    named: dict[str, tuple[FieldDef, Any]] = {}
    warnings: list[str] = []
    for name, value in obj.items():
        definition = fields.get(name.lower())
        if definition is None:
            warnings.append(f"Unknown field '{name}' ignored")
            continue
        if definition.name in named:
            return RowResult(reason=f"Field {definition.display_name} given twice")
        named[definition.name] = (definition, value)
    for key in keys:
        value = named[key][1] if key in named else None
        text = "" if value is None else cell_text(value)
        if text is not None and not text.strip():  # None: an array or object, a type failure
            return RowResult(reason=missing_reason.format(key=key))
    result = RowResult(warnings=warnings)
    for name, (definition, value) in named.items():
        if value is None or not (definition.updateable or name in keys):
            continue
        text = cell_text(value)
        if text is None:
            return RowResult(reason=f"Invalid data type in field {definition.display_name}")
        if text == "":
            continue
        converted, failure, warning = convert(definition, text)
        if failure:
            return RowResult(reason=failure)
        if warning:
            result.warnings.append(warning)
        result.values[name] = converted
    return result
