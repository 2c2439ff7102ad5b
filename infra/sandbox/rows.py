"""Parsing an uploaded import file and the per-row rules (docs/sandbox/behaviour.md, "Row rules").

Everything here is pure and uses only the fixed object definitions, so it runs
in the request thread without the state lock; only the upsert waits for the job
to reach the front of the queue.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from infra.sandbox.config import FieldDef

DELIMITERS = {"csv": ",", "tsv": "\t", "ssv": ";"}
_INTEGER = re.compile(r"[+-]?\d+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
_TYPED = {"integer", "float", "currency", "boolean", "date", "datetime"}
_SIZED = {"string", "text", "email", "phone", "url", "reference"}
csv.field_size_limit(2**31 - 1)  # a field may be as large as the file; lengths are checked per type


@dataclass
class ParsedFile:
    """Header and records of an upload, or the reason the whole job will fail."""

    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    error: str = ""


def parse_file(data: bytes, fmt: str) -> ParsedFile:
    """CSV-correct parse (quoted delimiters, quotes, newlines); UTF-8 with optional BOM."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return ParsedFile(error=f"file is not valid UTF-8 (byte {error.start})")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[fmt], strict=True)
    records: list[list[str]] = []
    try:
        for record in reader:
            if record:  # a blank line is not a record
                records.append(record)
    except csv.Error as error:
        return ParsedFile(error=f"malformed file at line {reader.line_num}: {error}")
    if not records or not any(name.strip() for name in records[0]):
        return ParsedFile(error="file has no header row")
    header = records[0]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            return ParsedFile(error=f"duplicate column '{name}' in header")
        seen.add(name)
    return ParsedFile(header=header, rows=records[1:])


@dataclass
class RowResult:
    """A row after the static rules: failed with ``reason``, or ``values`` plus warnings."""

    reason: str = ""
    values: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def convert(definition: FieldDef, raw: str) -> tuple[object, str, str]:
    """(value, failure, warning) for one non-empty cell under the field's data type."""
    kind = definition.data_type
    invalid = f"Invalid data type in field {definition.display_name}"
    if kind in _TYPED:
        value: object
        text = raw.strip()
        try:
            if kind == "integer":
                if not _INTEGER.fullmatch(text):
                    return None, invalid, ""
                value = int(text)
                if not -(2**31) <= value < 2**31:
                    return None, invalid, ""
            elif kind in ("float", "currency"):
                value = float(text)
                if not math.isfinite(value):
                    return None, invalid, ""
            elif kind == "boolean":
                if text.lower() not in _BOOLEANS:
                    return None, invalid, ""
                value = _BOOLEANS[text.lower()]
            elif kind == "date":
                value = date.fromisoformat(text).isoformat()
            else:
                parsed = datetime.fromisoformat(text)
                value = parsed.isoformat()
        except ValueError:
            return None, invalid, ""
        return value, "", ""
    warning = ""
    value = raw
    if kind == "email" and raw and not _EMAIL.fullmatch(raw):
        warning = "Invalid email address"
    if kind in _SIZED and definition.length is not None and len(raw) > definition.length:
        value = raw[: definition.length]
        truncated = f"Value for field {definition.display_name} truncated to {definition.length}"
        warning = f"{warning}; {truncated}" if warning else truncated
    return value, "", warning


def check_row(
    row: list[str],
    header: list[str],
    columns: list[FieldDef | None],
    keys: list[str],
    missing_key_reason: str,
) -> RowResult:
    """Static rules, in order: field count, key present (fail), types (fail), email/length (warn).

    ``columns`` maps each header position to its field (None: unknown, ignored);
    a key column is used even when the field is not updateable (e.g. ``id``).
    """
    if len(row) != len(header):
        return RowResult(reason=f"Wrong number of fields: expected {len(header)}, found {len(row)}")
    for key in keys:
        if key not in header or row[header.index(key)].strip() == "":
            return RowResult(reason=missing_key_reason)
    result = RowResult()
    for position, definition in enumerate(columns):
        if definition is None:
            continue
        raw = row[position]
        if raw == "" or not (definition.updateable or definition.name in keys):
            continue
        value, failure, warning = convert(definition, raw)
        if failure:
            return RowResult(reason=failure)
        if warning:
            result.warnings.append(warning)
        result.values[definition.name] = value
    return result


@lru_cache(maxsize=1024)
def text_converter(definition: FieldDef) -> Callable[[str], tuple[object, str, str]]:
    """``convert`` for one field, with its type's branch and messages chosen once (the Data
    Ingestion apply converts up to 1,000 objects of the same fields per request)."""
    kind = definition.data_type
    invalid: tuple[object, str, str] = (
        None, f"Invalid data type in field {definition.display_name}", ""
    )  # fmt: skip
    if kind in _TYPED:
        parse = _PARSERS[kind]

        def typed(raw: str) -> tuple[object, str, str]:
            try:
                value = parse(raw.strip())
            except ValueError:
                return invalid
            return invalid if value is _INVALID else (value, "", "")

        return typed
    limit = definition.length if kind in _SIZED else None
    truncated = f"Value for field {definition.display_name} truncated to {limit}"
    email = kind == "email"

    def text(raw: str) -> tuple[object, str, str]:
        warning = "Invalid email address" if email and raw and not _EMAIL.fullmatch(raw) else ""
        if limit is None or len(raw) <= limit:
            return raw, "", warning
        return raw[:limit], "", f"{warning}; {truncated}" if warning else truncated

    return text


_INVALID = object()  # a parsed value the type does not allow (out of range, not finite)


def _integer(text: str) -> object:
    if not _INTEGER.fullmatch(text):
        return _INVALID
    value = int(text)
    return value if -(2**31) <= value < 2**31 else _INVALID


def _float(text: str) -> object:
    value = float(text)
    return value if math.isfinite(value) else _INVALID


def _boolean(text: str) -> object:
    return _BOOLEANS.get(text.lower(), _INVALID)


_PARSERS: dict[str, Callable[[str], object]] = {
    "integer": _integer,
    "float": _float,
    "currency": _float,
    "boolean": _boolean,
    "date": lambda text: date.fromisoformat(text).isoformat(),
    "datetime": lambda text: datetime.fromisoformat(text).isoformat(),
}
