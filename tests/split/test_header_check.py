"""Header mapping and validation against a describe."""

from __future__ import annotations

import pytest

from workers.errors import HeaderError, InputError
from workers.split.header_check import (
    ColumnMapping,
    TargetFields,
    check_header,
    header_problems,
    parse_header,
    plan_header,
    sniff_delimiter,
)

LEADS = TargetFields("leads", ["email", "firstName", "lastName", "company", "id"], ["email"])


def test_valid_header_passes() -> None:
    check_header(["email", "FirstName", "lastName"], LEADS, source="s3://b/x.csv")


def test_every_problem_is_listed_with_suggestions() -> None:
    problems = header_problems(["emial", " firstName", "lastName", "lastName", "", "zzz"], LEADS)
    assert problems == [
        "unknown field 'emial' (did you mean 'email'?)",
        "column 2 ' firstName' has stray whitespace (did you mean 'firstName'?)",
        "duplicate column 'lastName' (columns 3 and 4)",
        "column 5 has no name",
        "unknown field 'zzz'",
        "missing lookup field 'email'",
    ]


def test_error_text() -> None:
    with pytest.raises(HeaderError) as error:
        check_header(["email", "first_name"], LEADS, source="s3://b/x.csv")
    assert str(error.value) == (
        "s3://b/x.csv: header does not fit Marketo's leads: "
        "unknown field 'first_name' (did you mean 'firstName'?)"
    )
    assert error.value.problems == ["unknown field 'first_name' (did you mean 'firstName'?)"]


def test_structural_checks_without_a_describe() -> None:
    assert header_problems(["a", "a "], None) == [
        "column 2 'a ' has stray whitespace (did you mean 'a'?)",
        "duplicate column 'a' (columns 1 and 2)",
    ]
    assert header_problems(["email;firstName"], None) == [
        "the header has one column but contains semicolons: "
        'is the file semicolon-separated? set inputFormat to "ssv"'
    ]


def test_mapping_renames_and_drops() -> None:
    mapping = ColumnMapping.from_json('{"E-mail": "email", "secret": null}')
    plan = plan_header(["E-mail", "secret", "company"], mapping, source="x")
    assert plan.output_columns == ["email", "company"]
    assert plan.keep == [0, 2]
    assert plan_header(["E-mail"], ColumnMapping({"E-mail": "email"}), source="x").keep is None
    with pytest.raises(HeaderError) as error:
        plan_header(["Email"], ColumnMapping({"E-mail": "email"}), source="m.csv")
    assert str(error.value) == (
        "m.csv: column mapping does not fit the header: mapping names column 'E-mail', "
        "which is not in the header (did you mean 'Email'?)"
    )
    with pytest.raises(InputError, match="must be a JSON object"):
        ColumnMapping.from_json("[1, 2]")


def test_parse_and_sniff() -> None:
    assert parse_header(b'"a,b",c\r\n', ",") == ["a,b", "c"]
    assert sniff_delimiter(b"a\tb\tc\n") == "\t"
    assert sniff_delimiter(b"a;b\n") == ";"
    assert sniff_delimiter(b"a\n") == ","
