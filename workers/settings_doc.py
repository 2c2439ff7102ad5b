"""The configuration reference, rendered from the Settings object itself.

The docs site inserts this table at build time (docs/hooks/settings_reference.py),
so the documented variables, defaults and bounds cannot drift from the code.
"""

from __future__ import annotations

import types
from enum import Enum
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import annotated_types
from pydantic import AnyUrl, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from workers.settings import Settings

# How each bound reads in the table, e.g. "≥ 1".
_BOUNDS: tuple[tuple[type[Any], str, str], ...] = (
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.Le, "le", "≤"),
)

_TYPE_NAMES: dict[type[Any], str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Path: "path",
    SecretStr: "secret",
}


def type_name(annotation: Any) -> str:
    """A reader's name for a field type: ``integer``, ``URL``, ``secret``, ``path``..."""
    if get_origin(annotation) in (Union, types.UnionType):
        names = [type_name(arg) for arg in get_args(annotation) if arg is not type(None)]
        return " or ".join(names)
    if isinstance(annotation, type):
        if issubclass(annotation, AnyUrl):
            return "URL"
        if issubclass(annotation, Enum):
            return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
        for known, name in _TYPE_NAMES.items():
            if issubclass(annotation, known):
                return name
    return str(annotation)


def default_text(field: FieldInfo) -> str:
    """The default as an operator would type it; ``unset`` when there is none."""
    value = field.get_default(call_default_factory=True)
    if value is None or value is PydanticUndefined:
        return "unset"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, Enum):
        value = value.value
    return f"`{value}`"


def bounds_text(field: FieldInfo) -> str:
    """The field's numeric bounds, e.g. ``≥ 1, ≤ 100``."""
    parts = []
    for item in field.metadata:
        for kind, attribute, symbol in _BOUNDS:
            if isinstance(item, kind):
                bound = getattr(item, attribute)
                parts.append(
                    f"{symbol} {bound:,}" if isinstance(bound, int) else f"{symbol} {bound}"
                )
    return ", ".join(parts)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _prose(text: str) -> str:
    """A description as literal text (``<rest url>`` must not read as an HTML tag)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_settings_table(settings_class: type[BaseSettings] = Settings) -> str:
    """A Markdown table with one row per setting, in the order the class declares them."""
    rows = [
        "| variable | type | default | allowed | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    for name, field in settings_class.model_fields.items():
        variable = prefix + (field.alias if isinstance(field.alias, str) else name)
        variable = variable.upper()
        cells = (
            f"`{variable}`",
            type_name(field.annotation),
            default_text(field),
            bounds_text(field),
            _prose(field.description or ""),
        )
        rows.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def undescribed_settings(settings_class: type[BaseSettings] = Settings) -> list[str]:
    """Variables whose field has no description yet (their table cell is empty)."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    return [
        (prefix + name).upper()
        for name, field in settings_class.model_fields.items()
        if not field.description
    ]
