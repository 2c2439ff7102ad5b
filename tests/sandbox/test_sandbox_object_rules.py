"""The Data Ingestion apply's compiled row rules give exactly the plain rules' outcome.

``ObjectRules`` (one per object definition and key list, made once per request)
and ``text_converter`` (one per field) are the fast forms of ``check_object`` and
``rows.convert``; on any JSON object a client could send, hostile ones included,
they must fail, warn, truncate and convert the same way.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.sandbox.config import FieldDef, load_config
from infra.sandbox.ingestion.objects import ObjectRules, check_object, field_map, rules_for
from infra.sandbox.rows import convert, text_converter

_, SCHEMA = load_config(None)
TYPES = ("string", "text", "email", "phone", "url", "reference", "integer", "float", "currency",
         "boolean", "date", "datetime")  # fmt: skip
# Every data type, a read-only one, one without a length, and two names that differ only in
# case (a lower-case lookup finds the last), besides the default lead fields.
FIELDS = (
    *(FieldDef(f"f_{kind}", f"F {kind}", kind, length=8) for kind in TYPES),
    FieldDef("readOnly", "Read Only", "string", length=8, updateable=False),
    FieldDef("unbounded", "Unbounded", "text"),
    FieldDef("Twin", "Twin Upper", "string", length=8),
    FieldDef("twin", "Twin Lower", "integer"),
)
NAMES = [d.name for d in FIELDS + SCHEMA.lead_fields]

texts = st.one_of(
    st.sampled_from(["", " ", "0", "1", "-7", "+3", "2147483648", "1e999", "1_000", " 12 ",
                     "true", "FALSE", "yes", "nan", "Infinity", "2024-02-29", "2024-02-30",
                     "2024-02-29T10:00:00+01:00", "a@b.co", "a@b", "١٢٣", "x" * 9, "9" * 5000]),
    st.text(max_size=12),
)  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**53, 2**53 + 1, 10**400]),
    st.floats(allow_nan=False),
    texts,
)
values = st.one_of(scalars, st.lists(scalars, max_size=2), st.dictionaries(texts, scalars,
                                                                           max_size=1))  # fmt: skip
names = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(NAMES).map(str.upper),
    st.sampled_from(NAMES).map(str.lower),
    st.sampled_from(["unknownField", "", "id"]),
)
objects = st.dictionaries(names, values, max_size=8)
key_lists = st.sampled_from([(), ("email",), ("f_integer",), ("readOnly",), ("email", "f_date"),
                             ("twin",), ("id",)])  # fmt: skip


def all_fields() -> dict[str, FieldDef]:
    return field_map(FIELDS + SCHEMA.lead_fields)


@settings(max_examples=600, deadline=None)
@given(obj=objects, keys=key_lists)
def test_an_object_gets_the_same_outcome_from_the_compiled_rules(
    obj: dict[str, Any], keys: tuple[str, ...]
) -> None:
    fields = all_fields()
    expected = check_object(obj, fields, list(keys), "Missing value for lookup field '{key}'")
    rules = ObjectRules(fields, keys, "Missing value for lookup field '{key}'")
    assert rules.check(obj) == expected


@settings(max_examples=400, deadline=None)
@given(obj=st.fixed_dictionaries({}, optional={name: values for name in NAMES}))
def test_a_describe_spelt_object_gets_the_same_outcome_as_a_lead(obj: dict[str, Any]) -> None:
    """The one-pass form, every field named as the describe names it."""
    fields = field_map(SCHEMA.lead_fields)
    rules = rules_for(SCHEMA.lead_fields, ("email",), "Missing value for lookup field '{key}'")
    expected = check_object(obj, fields, ["email"], "Missing value for lookup field '{key}'")
    assert rules.check(obj) == expected


BOUNDARIES: list[Any] = [
    None, True, False, 0, 1, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**53, 2**53 + 1,
    -(2**53) - 1, 10**400, 0.5, -0.0, 1e300, float("inf"), float("-inf"), "", " ", "12345678",
    "123456789", "1.5", "a@b.co", "a@b", "true", "2024-02-29", [], {}, ["x"],
]  # fmt: skip


@pytest.mark.parametrize("definition", FIELDS, ids=lambda d: d.name)
def test_each_type_takes_boundary_values_as_the_plain_rules_do(definition: FieldDef) -> None:
    """A value alone in its field, as a key and not: ranges, finiteness, lengths, types."""
    fields = all_fields()
    for keys in ((), (definition.name,)):
        rules = ObjectRules(fields, keys, "missing {key}")
        for value in BOUNDARIES:
            obj = {definition.name: value}
            assert rules.check(obj) == check_object(obj, fields, list(keys), "missing {key}"), obj


@settings(max_examples=600, deadline=None)
@given(definition=st.sampled_from(FIELDS), raw=texts)
def test_a_cell_converts_the_same_through_its_field_converter(
    definition: FieldDef, raw: str
) -> None:
    if raw:
        assert text_converter(definition)(raw) == convert(definition, raw)


def test_a_typical_lead_is_converted_and_warned_about_as_a_bulk_row_would_be() -> None:
    rules = rules_for(SCHEMA.lead_fields, ("email",), "Missing value for lookup field '{key}'")
    result = rules.check({"email": "not-an-email", "firstName": "Ann", "leadScore": 7,
                          "annualRevenue": 12, "unsubscribed": True,
                          "dateOfBirth": " 1980-01-02 "})  # fmt: skip
    assert result.reason == ""
    assert result.values == {"email": "not-an-email", "firstName": "Ann", "leadScore": 7,
                             "annualRevenue": 12.0, "unsubscribed": True,
                             "dateOfBirth": "1980-01-02"}  # fmt: skip
    assert result.warnings == ["Invalid email address"]
    missing = rules.check({"firstName": "Ann", "leadScore": "high"})
    assert missing.reason == "Missing value for lookup field 'email'"
