"""Input errors stay short and whole: huge headers and mappings, undecodable text, pickling."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from tests.split.split_helpers import put, records, split
from tests.split.test_split_inputs import HEADER
from workers.errors import HeaderError, InputError
from workers.split.header_check import ColumnMapping, TargetFields
from workers.storage import Storage

pytestmark = pytest.mark.s3_endpoints


def test_a_50000_column_mapping_gives_a_short_error(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    source = put(s3_client, bucket, "map.csv", HEADER + records(2))
    mapping = ColumnMapping({f"column_{i:05d}": f"field{i}" for i in range(50_000)})
    with pytest.raises(HeaderError) as error:
        split(storage, source, f"s3://{bucket}/out-map", mapping=mapping)
    named = [
        f"mapping names column 'column_{i:05d}', which is not in the header" for i in range(10)
    ]
    assert str(error.value) == (
        f"{source}: column mapping does not fit the header: "
        + "; ".join(named)
        + "; ... and 49,990 more"
    )
    assert error.value.problems == [*named, "... and 49,990 more"]


def test_a_50000_column_header_gives_a_short_error(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    columns = ["email"] + [f"extra_{i:05d}" for i in range(49_999)]
    source = put(s3_client, bucket, "wide.csv", ",".join(columns).encode() + b"\na@x.com\n")
    target = TargetFields("leads", ["email", "firstName", "lastName"], ["email"])
    with pytest.raises(HeaderError) as error:
        split(storage, source, f"s3://{bucket}/out-wide", target=target)
    named = [f"unknown field 'extra_{i:05d}'" for i in range(10)]
    assert str(error.value) == (
        f"{source}: header does not fit Marketo's leads: "
        + "; ".join(named)
        + "; ... and 49,989 more"
    )
    # Parts whose headers differ: the difference names a few columns, not 50,000.
    put(s3_client, bucket, "p/part-0.csv", HEADER + records(1))
    put(s3_client, bucket, "p/part-1.csv", ",".join(columns).encode() + b"\na@x.com\n")
    with pytest.raises(InputError) as differs:
        split(storage, f"s3://{bucket}/p/", f"s3://{bucket}/out-p")
    assert str(differs.value) == (
        f"s3://{bucket}/p/part-1.csv: header differs from part-0.csv: 50000 columns, "
        "expected 3 (" + ", ".join(columns[:10]) + ", ... and 49,990 more)"
    )


def test_every_input_error_is_bounded() -> None:
    error = InputError("x" * 1_000_000, source="s3://b/k.csv", line=7)
    text = str(error)
    assert len(text) == 4_000
    assert text.startswith("s3://b/k.csv, line 7: xxx")
    assert text.endswith("x ... [cut: 1,000,022 characters in all]")
    assert len(error.reason) == 4_000


def test_too_many_undecodable_records_say_to_set_the_encoding(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    text = "email,firstName\n" + "".join(f"p{i}@x.com,Renée {i}\n" for i in range(20))
    source = put(s3_client, bucket, "cp.csv", text.encode("cp1252"))
    with pytest.raises(InputError) as error:
        split(storage, source, f"s3://{bucket}/out-cp")
    assert str(error.value) == (
        f"{source}: 20 of 20 records rejected (100.00%), more than the 1% allowed; "
        f"see s3://{bucket}/out-cp/rejects.csv; the rejected records are not valid utf-8: "
        'set encoding to the file\'s (e.g. "cp1252" or "latin-1")'
    )
    run = split(storage, source, f"s3://{bucket}/out-cp", encoding="cp1252")
    assert run.result.rows == 20 and run.result.rejects == 0


def test_input_errors_survive_pickling_with_their_details() -> None:

    from workers.errors import OptionError

    header = HeaderError("bad header: x", source="s3://b/k.csv", problems=["x"])
    option = OptionError("too small", option="limit", source="s3://b/k.csv")
    for error in (header, option, InputError("gone", source="s3://b/k.csv", line=3)):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert copy.__dict__ == error.__dict__
