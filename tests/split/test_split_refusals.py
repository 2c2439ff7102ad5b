"""``mkto-bulk split`` and the pipeline refusing bad options, gzip bombs and huge mappings."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline_helpers import Pipeline, read_report
from tests.services import S3_ACCESS_KEY, S3_SECRET_KEY
from tests.split.split_helpers import put, records

HEADER = b"email,firstName,notes\n"


@pytest.fixture
def cli_env(s3_service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_ENDPOINT_URL", s3_service.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)


def cli_error(args: list[str]) -> str:
    """The last line of ``mkto-bulk split ARGS``: a usage error, never a traceback."""
    from click.testing import CliRunner

    from workers.cli import cli

    outcome = CliRunner().invoke(cli, ["split", *args])
    assert outcome.exit_code == 2, outcome.output
    assert isinstance(outcome.exception, SystemExit)  # not an uncaught error
    assert "Traceback" not in outcome.output
    return outcome.output.strip().splitlines()[-1]


@pytest.mark.s3_endpoints
@pytest.mark.usefixtures("cli_env")
def test_cli_refuses_bad_options_and_destinations_in_one_line(
    s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    source = put(s3_client, bucket, "cli.csv", HEADER + records(5))
    out = f"s3://{bucket}/cli-out"
    assert cli_error([source, out, "--limit", "10"]) == (
        f"Error: Invalid value for '--limit': {source}: the header alone (22 bytes) "
        "leaves no room for records under the 10-byte limit"
    )
    assert cli_error([source, out, "--limit", "0"]) == (
        "Error: Invalid value for '--limit': 0 is not in the range x>=1."
    )
    assert cli_error([source, out, "--limit", "10000000"]) == (
        "Error: Invalid value for '--limit': 10,000,000 is not below Marketo's "
        "10,000,000-byte file limit"
    )
    assert cli_error([source, out, "--reject-threshold", "-1"]) == (
        "Error: Invalid value for '--reject-threshold': -1.0 is not in the range 0<=x<=1."
    )
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert cli_error([source, str(afile)]) == (
        f"Error: Invalid value for 'DEST': {afile} is a file, not a directory"
    )
    assert cli_error([source, str(afile / "sub")]) == (
        f"Error: Invalid value for 'DEST': {afile}/sub is under {afile}, a file, not a directory"
    )
    missing = "s3://no-such-bucket-for-split/out"
    assert cli_error([source, missing]) == (
        f"Error: Invalid value for 'DEST': {missing}: no such bucket"
    )
    # Nothing was written by any of these.
    assert s3_client.list_objects_v2(Bucket=bucket, Prefix="cli-out/")["KeyCount"] == 0


@pytest.mark.usefixtures("cli_env")
def test_cli_gzip_bomb_limit_comes_from_the_settings(
    s3_client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from workers.cli import cli

    bomb = gzip.compress(HEADER + b"a@x.com,A,n\n" * 200_000)
    source = put(s3_client, bucket, "bomb.csv", bomb)
    monkeypatch.setenv("SPLIT_MAX_EXPANSION_RATIO", "20")
    outcome = CliRunner().invoke(cli, ["split", source, f"s3://{bucket}/cli-bomb"])
    assert outcome.exit_code == 1 and "Traceback" not in outcome.output
    assert outcome.output.strip().splitlines()[-1] == (
        f"Error: {source}: gzip data decompresses to more than 1,048,576 bytes, over 20 times "
        f"its {len(bomb):,} stored bytes: stopped as a likely gzip bomb; "
        "raise SPLIT_MAX_EXPANSION_RATIO if the data is genuine"
    )


@pytest.fixture
def bomb_pipeline(pipeline_with: Callable[..., Pipeline]) -> Pipeline:
    return pipeline_with(SPLIT_MAX_EXPANSION_RATIO="20")


def test_pipeline_stops_a_gzip_bomb_and_keeps_a_huge_mapping_error_short(
    bomb_pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    bomb = gzip.compress(b"email,firstName\n" + b"a@x.com,A\n" * 300_000)
    bomb_source = put(s3_client, bucket, "in/bomb.csv", bomb)
    plain = put(s3_client, bucket, "in/plain.csv", b"email,firstName\na@x.com,A\n")
    # The most columns a payload's mapping may name (more is refused at the door).
    mapping = {f"column_{i:05d}": "firstName" for i in range(1_000)}
    bomb_pipeline.start_worker("a")
    bomb_load = bomb_pipeline.start_load(source=bomb_source, object="leads")
    mapped_load = bomb_pipeline.start_load(source=plain, object="leads", mapping=mapping)

    load = bomb_pipeline.wait_until_finished(bomb_load, timeout=60)
    assert load["state"] == "failed", load
    assert load["error"] == (
        f"{bomb_source}: gzip data decompresses to more than 1,048,576 bytes, over 20 times "
        f"its {len(bomb):,} stored bytes: stopped as a likely gzip bomb; "
        "raise SPLIT_MAX_EXPANSION_RATIO if the data is genuine"
    )
    assert read_report(s3_client, load["report_uri"])["totals"]["rows_submitted"] == 0

    load = bomb_pipeline.wait_until_finished(mapped_load, timeout=60)
    assert load["state"] == "failed", load
    named = "; ".join(
        f"mapping names column 'column_{i:05d}', which is not in the header" for i in range(10)
    )
    expected = f"{plain}: column mapping does not fit the header: {named}; ... and 990 more"
    assert load["error"] == expected
    assert read_report(s3_client, load["report_uri"])["error"] == expected
    logged = [line for line in bomb_pipeline.logs().splitlines() if mapped_load in line]
    assert logged and max(len(line) for line in logged) < 5_000
