"""Rows become typed Data Ingestion objects, and objects pack into requests within the limits."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.importers.ingestion_rows import (
    Batch,
    ObjectBuilder,
    Rejected,
    encode,
    json_value,
    pack,
    to_object,
)


@pytest.mark.parametrize(
    ("text", "data_type", "value"),
    [
        ("42", "integer", 42),
        (" -7 ", "integer", -7),
        ("3.5", "float", 3.5),
        ("19.99", "currency", 19.99),
        ("TRUE", "boolean", True),
        ("no", "boolean", False),
        ("2026-02-28", "date", "2026-02-28"),
        ("2026-02-28T10:00:00+01:00", "datetime", "2026-02-28T10:00:00+01:00"),
        (" Ann ", "string", " Ann "),  # text is sent as written
        ("x", None, "x"),
    ],
)
def test_cells_become_values_of_their_field_type(text: str, data_type: str, value: object) -> None:
    assert json_value(text, data_type) == value


@pytest.mark.parametrize(
    ("text", "data_type", "reason"),
    [
        ("4x", "integer", '"4x" is not an integer'),
        ("99999999999999999999", "integer", "is not an integer"),
        ("nan", "float", '"nan" is not a finite number'),
        ("maybe", "boolean", '"maybe" is not a boolean'),
        ("2026-02-30", "date", '"2026-02-30" is not a date (YYYY-MM-DD)'),
        ("yesterday", "datetime", "is not an ISO 8601 date and time"),
    ],
)
def test_a_cell_not_of_its_type_says_why(text: str, data_type: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        json_value(text, data_type)


def test_a_row_leaves_empty_cells_out_and_names_the_bad_field() -> None:
    types = {"email": "email", "score": "integer", "vip": "boolean"}
    header = ["email", "score", "vip"]
    assert to_object(header, ["a@x.com", "", "yes"], types) == {"email": "a@x.com", "vip": True}
    with pytest.raises(ValueError, match=r'^field score: "high" is not an integer$'):
        to_object(header, ["a@x.com", "high", ""], types)
    with pytest.raises(ValueError, match="record has 2 fields, the header has 3"):
        to_object(header, ["a@x.com", "1"], types)


def test_one_builder_converts_every_row_of_a_file_alike() -> None:
    types = {"email": "email", "score": "integer", "revenue": "currency", "born": "date"}
    builder = ObjectBuilder(["email", "score", "revenue", "born"], types)
    rows = [["a@x.com", "7", "1.5", "1990-01-02"], ["b@x.com", "", "2", ""]]
    assert [builder.build(row) for row in rows] == [
        {"email": "a@x.com", "score": 7, "revenue": 1.5, "born": "1990-01-02"},
        {"email": "b@x.com", "revenue": 2.0},
    ]
    with pytest.raises(ValueError, match=r'^field born: "1990-02-30" is not a date'):
        builder.build(["c@x.com", "1", "1", "1990-02-30"])


_VALUES = st.one_of(
    st.text(), st.integers(-(2**63), 2**63 - 1), st.booleans(), st.floats(allow_nan=False,
    allow_infinity=False)
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(st.text(), _VALUES, max_size=8))
def test_an_object_is_encoded_as_compact_utf8_json(data: dict[str, object]) -> None:
    expected = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert encode(data) == expected  # type: ignore[arg-type]
    assert json.loads(encode(data)) == data  # type: ignore[arg-type]


def test_packing_respects_the_object_count_and_the_byte_limit() -> None:
    items = [(line, encode({"email": f"p{line}@x.com"})) for line in range(2, 2_502)]
    batches = list(pack(items, overhead=20))
    assert [len(b.objects) for b in batches] == [1_000, 1_000, 500]
    assert [line for b in batches for line in b.lines] == list(range(2, 2_502))
    small = list(pack(items[:10], overhead=2, max_bytes=60))
    for batch in small:
        assert len(batch.body(b"[", b"]")) <= 60


def test_an_object_over_the_request_limit_is_rejected_alone() -> None:
    rejected: list[Rejected] = []
    big = encode({"notes": "x" * 2_000})
    items = [(2, encode({"a": 1})), (3, big), (4, encode({"a": 2}))]
    batches = list(pack(items, overhead=10, max_bytes=1_000, rejected=rejected))
    assert [b.lines for b in batches] == [(2, 4)]
    assert rejected == [
        Rejected(3, "object is 2,012 bytes as JSON; a request holds at most 1,000 bytes")
    ]


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 300), max_size=80),
    max_objects=st.integers(1, 10),
    max_bytes=st.integers(50, 1_000),
)
def test_every_object_lands_in_one_batch_or_is_rejected(
    sizes: list[int], max_objects: int, max_bytes: int
) -> None:
    items = [(i, encode({"v": "x" * n})) for i, n in enumerate(sizes)]
    before, after = b'{"persons":[', b"]}"
    rejected: list[Rejected] = []
    batches: list[Batch] = list(
        pack(
            items,
            overhead=len(before + after),
            max_objects=max_objects,
            max_bytes=max_bytes,
            rejected=rejected,
        )
    )
    sent = [line for b in batches for line in b.lines]
    assert sorted(sent + [r.line for r in rejected]) == list(range(len(sizes)))
    for batch in batches:
        body = batch.body(before, after)
        assert len(batch.objects) <= max_objects
        assert len(body) <= max_bytes
        assert len(json.loads(body)["persons"]) == len(batch.objects)


_TYPES = ["string", "integer", "float", "currency", "boolean", "date", "datetime", None]
_CELLS = st.one_of(
    st.text(max_size=12), st.sampled_from(["", "1", "-7", "3.5", "1e308", "true", "no",
    "2026-02-28", "2026-02-30", "2026-02-28T10:00:00", "x", " 9 ", "\u2028", "\"q\"",
    "-0", "007", "+5", "0", "123456789012345678", "9223372036854775808", "TRUE", "Yes", "1.50",
    "%s", "50%"])
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    columns=st.lists(st.tuples(st.text(min_size=1, max_size=6) | st.just("%s%"),
                               st.sampled_from(_TYPES)),
                     min_size=1, max_size=6, unique_by=lambda c: c[0]),
    cells=st.lists(_CELLS, min_size=6, max_size=6),
    required=st.booleans(),
)  # fmt: skip
def test_an_encoded_row_is_byte_for_byte_the_built_object_encoded(
    columns: list[tuple[str, str | None]], cells: list[str], required: bool
) -> None:
    """The chunk's fast path writes the JSON itself; it must say exactly what json would, and
    refuse exactly what building the object refuses, with the same message."""
    header = [name for name, _ in columns]
    row = cells[: len(header)]
    keys = header[:1] if required else []
    builder = ObjectBuilder(header, dict(columns), keys)
    try:
        expected: bytes | str = encode(builder.build(row))
        if keys and row[0] == "":
            expected = f"field {keys[0]}: is empty; Marketo matches each object on it"
    except ValueError as error:
        expected = str(error)
    try:
        found: bytes | str = builder.encoded(row)
    except ValueError as error:
        found = str(error)
    assert found == expected
