"""Rows of a split file as Data Ingestion objects, and objects packed into requests.

A bulk import sends Marketo the file and lets Marketo parse it; the Data
Ingestion API takes JSON, so the parsing is ours: each cell becomes a JSON
value of its field's type in the describe (integers, floats, booleans, dates;
text as text), empty cells are left out (an absent field is left unchanged in
Marketo, which is what an empty cell means in a bulk import), and a cell that
is not of its type rejects its row with the line, field and reason, before
anything is sent. Pure functions: no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from workers.marketo.ingestion import MAX_BODY_BYTES, MAX_OBJECTS

JsonValue = str | int | float | bool

_INTEGER = re.compile(r"^[+-]?[0-9]{1,19}$")
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
INTEGER_TYPES = frozenset({"integer", "score", "reference"})
FLOAT_TYPES = frozenset({"float", "currency", "percent"})


@dataclass(frozen=True)
class Rejected:
    """A row that cannot be sent: its source line and why (the field named)."""

    line: int
    reason: str


def _integer(text: str) -> JsonValue:
    value = text.strip()
    if not _INTEGER.match(value):
        raise ValueError(f"{_shown(text)} is not an integer")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError(f"{_shown(text)} is out of range for an integer")
    return number


def _number(text: str) -> JsonValue:
    try:
        real = float(text.strip())
    except ValueError:
        raise ValueError(f"{_shown(text)} is not a number") from None
    if not math.isfinite(real):
        raise ValueError(f"{_shown(text)} is not a finite number")
    return real


def _boolean(text: str) -> JsonValue:
    value = text.strip().lower()
    if value not in _BOOLEANS:
        raise ValueError(f"{_shown(text)} is not a boolean (true/false, 1/0, yes/no)")
    return _BOOLEANS[value]


def _date(text: str) -> JsonValue:
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise ValueError(f"{_shown(text)} is not a date (YYYY-MM-DD)") from None


def _datetime(text: str) -> JsonValue:
    value = text.strip()
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{_shown(text)} is not an ISO 8601 date and time") from None
    return value


Convert = Callable[[str], JsonValue]
_CONVERTERS: dict[str, Convert] = {
    **dict.fromkeys(INTEGER_TYPES, _integer),
    **dict.fromkeys(FLOAT_TYPES, _number),
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
}


def converter(data_type: str | None) -> Convert | None:
    """The function turning a cell into a value of ``data_type``; None for text (as written)."""
    return _CONVERTERS.get((data_type or "string").lower())


def json_value(text: str, data_type: str | None) -> JsonValue:
    """``text`` as a JSON value of ``data_type``; ValueError says why it is not one."""
    convert = converter(data_type)
    return text if convert is None else convert(text)


class ObjectBuilder:
    """Rows of one file as objects; each column's converter is looked up once, not per cell
    (a chunk holds up to a few hundred thousand cells of the same few types)."""

    def __init__(
        self,
        header: Sequence[str],
        types: Mapping[str, str | None],
        required: Sequence[str] = (),
    ) -> None:
        self.width = len(header)
        self.columns = [(name, converter(types.get(name))) for name in header]
        # What ``encoded`` writes before each value: the field's JSON name and a colon.
        self._keys = [_json_text(name) + ":" for name in header]
        # Fields every object must carry (Marketo matches it on them); names are
        # case-insensitive, so a key is found in any column spelling it so.
        lowered = [name.lower() for name in header]
        self._required = [
            (name, [i for i, column in enumerate(lowered) if column == name.lower()])
            for name in required
        ]
        # The fast path: a row with no empty cell (most rows) is one %-format of its cells'
        # JSON texts, each written by a function picked per column (C for text).
        self._writers = [_writer(convert) for _, convert in self.columns]
        self._template = "{" + ",".join(key.replace("%", "%%") + "%s" for key in self._keys) + "}"
        self._fast = all(positions for _, positions in self._required)

    def encoded(self, row: Sequence[str]) -> bytes:
        """``encode(build(row))``, byte for byte, written directly (the hot loop of a chunk).

        Also checks the required fields; ValueError names the field either way.
        """
        if self._fast and len(row) == self.width and "" not in row:
            try:
                # The row is the header's width: strict is checked just above, once.
                texts = [write(cell) for write, cell in zip(self._writers, row, strict=False)]
                return (self._template % tuple(texts)).encode("utf-8")
            except ValueError:
                pass  # the cell-by-cell path below says which field and why
        if len(row) != self.width:
            raise ValueError(f"record has {len(row)} fields, the header has {self.width}")
        parts = []
        for key, (name, convert), cell in zip(self._keys, self.columns, row, strict=True):
            if cell == "":
                continue
            if convert is None:
                parts.append(key + _json_text(cell))
                continue
            try:
                parts.append(key + _json_scalar(convert(cell)))
            except ValueError as error:
                raise ValueError(f"field {name}: {error}") from None
        for name, positions in self._required:  # after the cells, as Marketo would say
            if all(row[i] == "" for i in positions):
                raise ValueError(f"field {name}: is empty; Marketo matches each object on it")
        return ("{" + ",".join(parts) + "}").encode("utf-8")

    def build(self, row: Sequence[str]) -> dict[str, JsonValue]:
        """One row as an object: typed values, empty cells left out; ValueError names the field."""
        if len(row) != self.width:
            raise ValueError(f"record has {len(row)} fields, the header has {self.width}")
        data: dict[str, JsonValue] = {}
        for (name, convert), cell in zip(self.columns, row, strict=True):
            if cell == "":
                continue
            if convert is None:
                data[name] = cell
                continue
            try:
                data[name] = convert(cell)
            except ValueError as error:
                raise ValueError(f"field {name}: {error}") from None
        return data


def to_object(
    header: Sequence[str], row: Sequence[str], types: Mapping[str, str | None]
) -> dict[str, JsonValue]:
    """One row as an object: typed values, empty cells left out; ValueError names the field."""
    return ObjectBuilder(header, types).build(row)


@dataclass(frozen=True)
class Batch:
    """Objects for one request: their encoded JSON and the source lines they came from."""

    objects: tuple[bytes, ...]
    lines: tuple[int, ...]

    def body(self, before: bytes, after: bytes) -> bytes:
        return before + b",".join(self.objects) + after


# One encoder for every object: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode(data: Mapping[str, JsonValue]) -> bytes:
    return _ENCODER.encode(data).encode("utf-8")


# The encoder's own pieces (C where available), so ``ObjectBuilder.encoded`` matches it.
_json_text: Callable[[str], str] = json.encoder.encode_basestring


_CANONICAL_INTEGER = re.compile(r"0|-?[1-9][0-9]{0,17}")  # JSON as written, in range


def _integer_json(text: str) -> str:
    """An integer cell's JSON text: the cell itself when already canonical (most are)."""
    if _CANONICAL_INTEGER.fullmatch(text):
        return text
    return repr(_integer(text))


def _number_json(text: str) -> str:
    return repr(_number(text))


_BOOLEAN_JSON = {text: "true" if value else "false" for text, value in _BOOLEANS.items()}


def _boolean_json(text: str) -> str:
    return _BOOLEAN_JSON.get(text) or _json_scalar(_boolean(text))


def _writer(convert: Convert | None) -> Callable[[str], str]:
    """A column's cell -> JSON text function (ValueError when the cell is not of its type)."""
    if convert is None:
        return _json_text
    direct: dict[Convert, Callable[[str], str]] = {
        _integer: _integer_json,
        _number: _number_json,
        _boolean: _boolean_json,
    }
    return direct.get(convert) or (lambda cell: _json_scalar(convert(cell)))


def _json_scalar(value: JsonValue) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _json_text(value)
    return repr(value)  # int and finite float: what json writes


def pack(
    objects: Iterable[tuple[int, bytes]],
    overhead: int,
    *,
    max_objects: int = MAX_OBJECTS,
    max_bytes: int = MAX_BODY_BYTES,
    rejected: list[Rejected] | None = None,
) -> Iterator[Batch]:
    """Group ``(line, encoded object)`` into requests within Marketo's two limits.

    ``overhead`` is the body's bytes around the array (the other keys, brackets).
    An object that cannot fit in any request is appended to ``rejected``.
    """
    room = max_bytes - overhead
    batch: list[bytes] = []
    lines: list[int] = []
    size = 0
    for line, item in objects:
        if len(item) > room:
            if rejected is not None:
                rejected.append(
                    Rejected(
                        line,
                        f"object is {len(item):,} bytes as JSON; a request holds at most "
                        f"{max_bytes:,} bytes",
                    )
                )
            continue
        extra = len(item) + (1 if batch else 0)  # the comma between objects
        if batch and (len(batch) >= max_objects or size + extra > room):
            yield Batch(tuple(batch), tuple(lines))
            batch, lines, size, extra = [], [], 0, len(item)
        batch.append(item)
        lines.append(line)
        size += extra
    if batch:
        yield Batch(tuple(batch), tuple(lines))


def _shown(text: str, limit: int = 40) -> str:
    cut = text if len(text) <= limit else text[:limit] + "..."
    return json.dumps(cut, ensure_ascii=False)
