"""One JSON object under the bulk import's row rules (rows.convert): types, keys, lengths.

JSON values are turned into the text a CSV cell would hold, so a value that a
bulk import refuses is refused here with the same reason, and one it truncates
or warns about is truncated or warned about the same way.

``check_object`` states the rules plainly; ``ObjectRules`` is the same rules
compiled once per object definition and key list (field lookups, messages and
a converter per field made up front, JSON values of the field's own type taken
without a round trip through text), because a request applies up to 1,000
objects of the same shape. Tests hold the two equal on hostile values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from infra.sandbox.config import FieldDef
from infra.sandbox.rows import RowResult, convert, text_converter

# A JSON value's (value, failure, warning) under one field; None: written as no value.
JsonConverter = Callable[[Any], tuple[object, str, str] | None]
_EXACT_FLOAT = 2**53  # every int up to this is a float exactly, as its text would parse


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


def json_converter(definition: FieldDef) -> JsonConverter:
    """``convert(definition, cell_text(value))`` for one field, "" and null as None.

    A value of the field's own JSON type is taken as it is (an integer in
    range, a finite number, a boolean, a string through the field's text
    converter); anything else goes the long way, through its cell text.
    """
    from_text = text_converter(definition)
    invalid = (None, f"Invalid data type in field {definition.display_name}", "")
    kind = definition.data_type

    def through_text(value: Any) -> tuple[object, str, str] | None:
        text = cell_text(value)
        if text is None:
            return invalid
        return from_text(text) if text else None

    def string(value: Any) -> tuple[object, str, str] | None:
        if type(value) is str:
            return from_text(value) if value else None
        return through_text(value)

    def integer(value: Any) -> tuple[object, str, str] | None:
        if type(value) is int:
            return (value, "", "") if -(2**31) <= value < 2**31 else invalid
        return string(value)

    def number(value: Any) -> tuple[object, str, str] | None:
        if type(value) is float:
            return (value, "", "") if math.isfinite(value) else invalid
        if type(value) is int and -_EXACT_FLOAT <= value <= _EXACT_FLOAT:
            return (float(value), "", "")
        return string(value)

    def boolean(value: Any) -> tuple[object, str, str] | None:
        if type(value) is bool:
            return (value, "", "")
        return string(value)

    by_kind = {"integer": integer, "float": number, "currency": number, "boolean": boolean}
    return by_kind.get(kind, string)


class ObjectRules:
    """``check_object`` for one field map and key list, with the per-field work done once.

    An object naming only known fields, spelt as the describe spells them (what
    a client typed by the describe sends), takes one pass: no name can then be
    given twice and every key is found under its own name. Any other object
    (an unknown field, another spelling) goes through ``check_object`` itself.
    """

    def __init__(self, fields: Mapping[str, FieldDef], keys: Iterable[str], missing_reason: str):
        self._fields = dict(fields)
        self._keys = list(keys)
        self._missing_reason = missing_reason
        # name -> (converter, written?, plain text limit, string converter), for the fields a
        # lower-case lookup finds under their own name; a key is written even when read-only;
        # a string of at most the limit in a text field other than an email is written as it is
        self._exact: dict[str, _Entry] = {}
        for lower, d in self._fields.items():
            if d.name.lower() != lower:
                continue
            limit = -1.0
            if d.data_type in _PLAIN_TEXT:
                limit = math.inf if d.length is None else d.length
            written = d.updateable or d.name in self._keys
            self._exact[d.name] = (json_converter(d), written, limit, text_converter(d))
        self._missing = [(key, missing_reason.format(key=key)) for key in self._keys]

    def check(self, obj: dict[str, Any]) -> RowResult:
        """The same result as ``check_object(obj, fields, keys, missing_reason)``."""
        values: dict[str, object] = {}
        warnings: list[str] = []
        failure = ""
        exact = self._exact
        for name, value in obj.items():
            entry = exact.get(name)
            if entry is None:
                return check_object(obj, self._fields, self._keys, self._missing_reason)
            if failure or value is None or not entry[1]:
                continue
            if type(value) is str:
                if not value:
                    continue
                if len(value) <= entry[2]:
                    values[name] = value
                    continue
                converted: tuple[object, str, str] | None = entry[3](value)
            else:
                converted = entry[0](value)
            if converted is None:
                continue
            if converted[1]:
                failure = converted[1]  # reported after the keys, as check_object does
                continue
            if converted[2]:
                warnings.append(converted[2])
            values[name] = converted[0]
        for key, reason in self._missing:
            value = obj.get(key)
            text = "" if value is None else value if type(value) is str else cell_text(value)
            if text is not None and not text.strip():
                return RowResult(reason=reason)
        if failure:
            return RowResult(reason=failure)
        return RowResult(values=values, warnings=warnings)


_Entry = tuple[JsonConverter, bool, float, Callable[[str], tuple[object, str, str]]]
_PLAIN_TEXT = frozenset(("string", "text", "phone", "url", "reference"))  # no check but length


@lru_cache(maxsize=256)
def rules_for(
    fields: tuple[FieldDef, ...], keys: tuple[str, ...], missing_reason: str
) -> ObjectRules:
    """The compiled rules for an object definition (a schema's fields never change)."""
    return ObjectRules(field_map(fields), keys, missing_reason)
