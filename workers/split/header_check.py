"""The header row: column mapping, and validation against Marketo's describe.

Everything here runs before a single record is submitted. The describe is
passed in as plain data (``TargetFields``), so this module does not depend
on the Marketo client. Every offending column is counted at once; the first
few are named, each with the closest valid name when there is one.

Mapping file (JSON): an object from dataset column to Marketo API field name;
``null`` drops the column. Columns not named keep their name::

    {"E-mail Address": "email", "First": "firstName", "internal_id": null}
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workers.errors import MAX_LISTED, HeaderError, InputError, listing

DELIMITERS = {"csv": ",", "tsv": "\t", "ssv": ";"}
DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon"}
FORMAT_OF = {delimiter: fmt for fmt, delimiter in DELIMITERS.items()}


@dataclass(frozen=True)
class ColumnMapping:
    """Dataset column -> Marketo API field name, or None to drop the column."""

    columns: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str, *, source: str = "mapping") -> ColumnMapping:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"not valid JSON ({error})", source=source) from None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in data.items()
        ):
            raise InputError(
                'must be a JSON object of "column": "apiField" (or null to drop the column)',
                source=source,
            )
        return cls(dict(data))

    @classmethod
    def from_file(cls, path: str | Path) -> ColumnMapping:
        return cls.from_json(Path(path).read_text(encoding="utf-8"), source=str(path))


@dataclass(frozen=True)
class TargetFields:
    """What Marketo's describe says about the target object.

    ``fields``: every API field name the import accepts; ``key_fields``: the
    lookup or dedupe fields (as the object type's spec says) every file must carry;
    ``key_kind`` is the word used for them in messages.
    """

    object_name: str
    fields: Sequence[str]
    key_fields: Sequence[str] = ()
    key_kind: str = "lookup"
    key_note: str = ""  # why these keys, when the reason is not plain (said with a missing one)
    # Columns of which a file may hold only one (e.g. two ways to match a record), and why.
    exclusive: Sequence[str] = ()
    exclusive_note: str = ""


@dataclass(frozen=True)
class HeaderPlan:
    """How the source header becomes the output header."""

    source_columns: list[str]
    output_columns: list[str]
    keep: list[int] | None  # indexes of the kept source columns; None = all, in order

    @property
    def drops_columns(self) -> bool:
        return self.keep is not None


def parse_header(raw: bytes, delimiter: str) -> list[str]:
    """The column names of a header record (RFC 4180 quoting)."""
    text = raw.decode("utf-8", "replace")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False))
    return rows[0] if rows else []


def format_row(values: Sequence[str], delimiter: str, line_ending: str = "\n") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=line_ending).writerow(values)
    return out.getvalue().encode("utf-8")


def sniff_delimiter(raw_header: bytes) -> str:
    """The most frequent of comma, tab and semicolon in the header line (comma on a tie)."""
    counts = {d: raw_header.count(d.encode()) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _closest(name: str, candidates: Sequence[str]) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    stripped = name.strip()
    if stripped.lower() in lowered:
        return lowered[stripped.lower()]
    compact = stripped.lower().replace(" ", "").replace("_", "").replace("-", "")
    for candidate in candidates:
        if candidate.lower().replace("_", "") == compact:
            return candidate
    match = difflib.get_close_matches(stripped.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def _hint(suggestion: str | None) -> str:
    return f" (did you mean {suggestion!r}?)" if suggestion else ""


def plan_header(
    columns: Sequence[str], mapping: ColumnMapping | None, *, source: str
) -> HeaderPlan:
    """Apply a mapping to the source columns; unknown mapping keys are errors."""
    columns = list(columns)
    if mapping is None or not mapping.columns:
        return HeaderPlan(columns, columns, None)
    present = set(columns)
    problems: list[str] = []
    for name in mapping.columns:
        if name not in present:
            # Suggestions only for the problems shown: each costs a scan of the header.
            hint = _hint(_closest(name, columns)) if len(problems) < MAX_LISTED else ""
            problems.append(f"mapping names column {name!r}, which is not in the header{hint}")
    if problems:
        raise HeaderError(
            "column mapping does not fit the header: " + listing(problems),
            source=source,
            problems=problems,
        )
    output: list[str] = []
    keep: list[int] = []
    for index, name in enumerate(columns):
        target = mapping.columns.get(name, name)
        if target is None:
            continue
        keep.append(index)
        output.append(target)
    if not output:
        raise HeaderError(
            "column mapping drops every column", source=source, problems=["no columns left"]
        )
    return HeaderPlan(columns, output, None if len(keep) == len(columns) else keep)


def header_problems(
    columns: Sequence[str], target: TargetFields | None, *, delimiter: str = ","
) -> list[str]:
    """Every problem of a (mapped) header, one message per offending column."""
    problems: list[str] = []
    valid = list(target.fields) if target else []
    known = {name.lower() for name in valid}
    if len(columns) == 1:
        for other, word in DELIMITER_NAMES.items():
            if other != delimiter and other in columns[0]:
                problems.append(
                    f"the header has one column but contains {word}s: "
                    f'is the file {word}-separated? set inputFormat to "{FORMAT_OF[other]}"'
                )
                return problems
    seen: dict[str, int] = {}
    for number, name in enumerate(columns, start=1):
        if not name.strip():
            problems.append(f"column {number} has no name")
            continue
        if name != name.strip():
            suggestion = name.strip()
            if target and suggestion.lower() not in known and len(problems) < MAX_LISTED:
                suggestion = _closest(suggestion, valid) or suggestion
            problems.append(f"column {number} {name!r} has stray whitespace{_hint(suggestion)}")
        elif target and name.lower() not in known:
            # Suggestions only for the problems shown: each costs a scan of the describe.
            hint = _hint(_closest(name, valid)) if len(problems) < MAX_LISTED else ""
            problems.append(f"unknown field {name!r}{hint}")
        key = name.strip().lower()
        if key in seen:
            problems.append(f"duplicate column {name.strip()!r} (columns {seen[key]} and {number})")
        else:
            seen[key] = number
    if target:
        for key_field in target.key_fields:
            if key_field.lower() not in seen:
                note = f" ({target.key_note})" if target.key_note else ""
                problems.append(f"missing {target.key_kind} field {key_field!r}{note}")
        present = (name for name in target.exclusive if name.lower() in seen)
        together = sorted(present, key=lambda name: seen[name.lower()])  # in the file's order
        if len(together) > 1:
            named = " and ".join(repr(name) for name in together)
            note = f" ({target.exclusive_note})" if target.exclusive_note else ""
            problems.append(f"columns {named} cannot be in the same file; give one{note}")
    return problems


def check_header(
    columns: Sequence[str],
    target: TargetFields | None,
    *,
    source: str,
    delimiter: str = ",",
) -> None:
    """Raise HeaderError listing every problem of the header, if it has any."""
    problems = header_problems(columns, target, delimiter=delimiter)
    if not problems:
        return
    what = f"header does not fit Marketo's {target.object_name}" if target else "bad header"
    raise HeaderError(f"{what}: " + listing(problems), source=source, problems=problems)
