"""The splitter against a real S3 endpoint over HTTP: sources, encodings, bad input."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from typing import Any

import pytest
from click.testing import CliRunner

from tests.services import S3_ACCESS_KEY, S3_SECRET_KEY
from tests.split.split_helpers import put, split
from workers.errors import HeaderError, InputError, SourceNotFound, TooManyRejects
from workers.split.header_check import ColumnMapping, TargetFields
from workers.split.run import SplitOptions, SplitRun, split_dataset
from workers.storage import Storage

pytestmark = pytest.mark.s3_endpoints

HEADER = b"email,firstName,notes\n"


def rows_of(client: Any, bucket: str, key: str, delimiter: str = ",") -> list[list[str]]:
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return list(csv.reader(io.StringIO(body, newline=""), delimiter=delimiter))


def records(n: int, start: int = 0) -> bytes:
    return b"".join(
        f'p{i}@example.com,Zoë {i},"note, with ""quotes""\nand a newline"\n'.encode()
        for i in range(start, start + n)
    )


def test_multi_part_prefix_with_gzip_parts_packs_all_records(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    put(s3_client, bucket, "in/part-00000.csv", HEADER + records(30))
    # gzip detected by content: no .gz suffix on this part.
    put(s3_client, bucket, "in/part-00001.csv", gzip.compress(HEADER + records(30, 30)))
    put(s3_client, bucket, "in/part-00002.csv.gz", gzip.compress(HEADER + records(40, 60)))
    put(s3_client, bucket, "in/_SUCCESS", b"")
    run = split(storage, f"s3://{bucket}/in/", f"s3://{bucket}/out", limit=1_000)
    result = run.result
    assert result.rows == 100 and result.rejects == 0
    assert [s.rows for s in result.sources] == [30, 30, 40]
    emails = []
    for chunk in result.files:
        key = chunk.uri.split("/", 3)[3]
        assert chunk.bytes <= 1_000
        rows = rows_of(s3_client, bucket, key)
        assert rows[0] == ["email", "firstName", "notes"]
        assert len(rows) - 1 == chunk.rows
        emails += [r[0] for r in rows[1:]]
    assert emails == [f"p{i}@example.com" for i in range(100)]
    # A file can span parts; lines are per part (each part's header is line 1).
    spanning = [c for c in result.files if c.first_source != c.last_source]
    assert spanning
    assert result.files[0].first_line == 2
    assert result.files[-1].last_source.endswith("part-00002.csv.gz")
    assert result.files[-1].last_line == 1 + 40 * 2


def test_bom_crlf_and_latin1(s3_client: Any, bucket: str, storage: Storage) -> None:
    body = b'\xef\xbb\xbfemail,firstName\r\na@x.com,Ann\r\n"b@x.com","Two\r\nlines"\r\n'
    put(s3_client, bucket, "bom.csv", body)
    run = split(storage, f"s3://{bucket}/bom.csv", f"s3://{bucket}/out-bom")
    data = s3_client.get_object(Bucket=bucket, Key="out-bom/chunk-00000.csv")["Body"].read()
    assert data == body[3:]  # BOM stripped, CRLF kept byte for byte
    assert run.result.rows == 2

    put(s3_client, bucket, "latin.csv", "email,firstName\ne@x.com,Renée Müller\n".encode("latin-1"))
    split(storage, f"s3://{bucket}/latin.csv", f"s3://{bucket}/out-latin", encoding="latin-1")
    assert rows_of(s3_client, bucket, "out-latin/chunk-00000.csv")[1] == ["e@x.com", "Renée Müller"]


def test_format_conversion_and_mapping(s3_client: Any, bucket: str, storage: Storage) -> None:
    put(s3_client, bucket, "m.csv", b'E-mail,First,internal\na@x.com,"Ann; Lee",1\n')
    mapping = ColumnMapping({"E-mail": "email", "First": "firstName", "internal": None})
    split(storage, f"s3://{bucket}/m.csv", f"s3://{bucket}/out-m", output_format="ssv",
          mapping=mapping)  # fmt: skip
    assert rows_of(s3_client, bucket, "out-m/chunk-00000.ssv", ";") == [
        ["email", "firstName"],
        ["a@x.com", "Ann; Lee"],
    ]


def test_bad_records_go_to_the_rejects_file(s3_client: Any, bucket: str, storage: Storage) -> None:
    big = b"x" * 600 + b"\n"
    body = (
        HEADER
        + records(200)  # lines 2-401
        + b"nul@x.com,N\x00,n\n"  # line 402
        + b"bad@x.com,caf\xe9,n\n"  # line 403
        + big  # line 404
        + records(100, 200)  # lines 405-604
        + b'open@x.com,"never closed\nstill open\n'  # line 605
    )
    put(s3_client, bucket, "bad.csv", body)
    run = split(storage, f"s3://{bucket}/bad.csv", f"s3://{bucket}/out-bad", limit=500,
                reject_threshold=0.05)  # fmt: skip
    assert run.result.rows == 300 and run.result.rejects == 4
    rejects = list(csv.reader(io.StringIO(
        s3_client.get_object(Bucket=bucket, Key="out-bad/rejects.csv")["Body"].read()
        .decode("utf-8", "replace"), newline="")))  # fmt: skip
    source = f"s3://{bucket}/bad.csv"
    assert rejects[0] == ["source", "line", "reason", "record"]
    assert [r[:3] for r in rejects[1:]] == [
        [source, "402", "NUL byte in record"],
        [source, "403", "undecodable bytes (utf-8): b'\\xe9' at byte 14 of the record"],
        [source, "404", "record of 601 bytes is larger than the 500-byte limit"],
        [source, "605", "unclosed quoted field at end of file"],
    ]
    assert rejects[3][3] == "x" * 600
    assert rejects[4][3] == 'open@x.com,"never closed\nstill open'


def test_record_bigger_than_the_limit_streams_to_rejects(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    big = b"big@x.com,B," + b"y" * 3_000_000 + b"\n"
    put(s3_client, bucket, "big.csv", HEADER + records(500) + big + records(100, 500))
    run = split(storage, f"s3://{bucket}/big.csv", f"s3://{bucket}/out-big", limit=20_000,
                block_bytes=64 * 1024)  # fmt: skip
    assert run.result.rows == 600 and run.result.rejects == 1
    assert run.result.reject_samples[0].line == 1002
    digest = hashlib.sha256(big).hexdigest()
    assert run.result.reject_samples[0].reason == (
        "record of 3,000,013 bytes is larger than the 20,000-byte limit; "
        f"record of 3,000,013 bytes, sha256 {digest}, first 65,536 bytes kept"
    )


def test_too_many_rejects_fails_the_source(s3_client: Any, bucket: str, storage: Storage) -> None:
    put(s3_client, bucket, "many.csv", HEADER + records(10) + b"n@x.com,\x00,\n" * 2)
    with pytest.raises(TooManyRejects) as error:
        split(storage, f"s3://{bucket}/many.csv", f"s3://{bucket}/out-many")
    assert str(error.value) == (
        f"s3://{bucket}/many.csv: 2 of 12 records rejected (16.67%), more than the 1% allowed; "
        f"see s3://{bucket}/out-many/rejects.csv"
    )


def test_nothing_is_announced_before_the_threshold_check(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    put(s3_client, bucket, "late.csv", HEADER + records(50) + b"n@x.com,\x00,\n" * 5)
    run = SplitRun(f"s3://{bucket}/late.csv", f"s3://{bucket}/out-late", storage=storage,
                   options=SplitOptions(limit=300, pipelined=False))  # fmt: skip
    announced = []
    with pytest.raises(TooManyRejects):
        for chunk in run:
            announced.append(chunk)
    assert announced == [] and run.progress is not None and len(run.progress.files) > 1


@pytest.mark.parametrize(
    ("objects", "source", "message"),
    [
        ({"e.csv": b""}, "e.csv", "{s}/e.csv: object is empty"),
        ({"h.csv": HEADER}, "h.csv", "{s}/h.csv: header only, no records"),
        ({}, "missing.csv", "{s}/missing.csv: no such object"),
        ({}, "missing/", "{s}/missing/: no objects under this prefix"),
        (
            {"p/part-0.csv": HEADER, "p/part-1.csv": b"email,firstname,notes\n"},
            "p/",
            "{s}/p/part-1.csv: header differs from part-0.csv: column 2 is 'firstname', "
            "expected 'firstName'",
        ),
        (
            {"p/part-0.csv": HEADER, "p/part-1.csv": HEADER},
            "p/",
            "{s}/p/: header only, no records in any of its 2 objects",
        ),
        (
            {"t.csv": b"email\tfirstName\na\tb\n"},
            "t.csv",
            "{s}/t.csv: bad header: the header has one column but contains tabs: "
            'is the file tab-separated? set inputFormat to "tsv"',
        ),
    ],
)
def test_clear_errors_for_bad_sources(
    s3_client: Any,
    bucket: str,
    storage: Storage,
    objects: dict[str, bytes],
    source: str,
    message: str,
) -> None:
    for key, body in objects.items():
        put(s3_client, bucket, key, body)
    with pytest.raises(InputError) as error:
        split(storage, f"s3://{bucket}/{source}", f"s3://{bucket}/out")
    assert str(error.value) == message.format(s=f"s3://{bucket}")


def test_missing_bucket(storage: Storage) -> None:
    with pytest.raises(SourceNotFound, match="no such bucket"):
        split(storage, "s3://no-such-bucket-here/x.csv", "s3://no-such-bucket-here/out")


def test_header_checked_against_the_describe(s3_client: Any, bucket: str, storage: Storage) -> None:
    put(s3_client, bucket, "co.csv", b"color, vin,emial,color\nred,1,a,b\n")
    target = TargetFields("car_c", ["vin", "color", "email", "make"], ["vin"], "dedupe")
    with pytest.raises(HeaderError) as error:
        split(storage, f"s3://{bucket}/co.csv", f"s3://{bucket}/out", target=target)
    assert str(error.value) == (
        f"s3://{bucket}/co.csv: header does not fit Marketo's car_c: "
        "column 2 ' vin' has stray whitespace (did you mean 'vin'?); "
        "unknown field 'emial' (did you mean 'email'?); "
        "duplicate column 'color' (columns 1 and 4)"
    )
    assert s3_client.list_objects_v2(Bucket=bucket, Prefix="out/")["KeyCount"] == 0


def test_split_dataset_callback_sees_each_file_as_written(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    put(s3_client, bucket, "cb.csv", HEADER + records(40))
    seen: list[int] = []

    def on_chunk(chunk: Any) -> None:
        # The file is already in S3 when it is announced.
        key = chunk.uri.split("/", 3)[3]
        assert s3_client.head_object(Bucket=bucket, Key=key)["ContentLength"] == chunk.bytes
        seen.append(chunk.index)

    result = split_dataset(f"s3://{bucket}/cb.csv", f"s3://{bucket}/out-cb", storage=storage,
                           options=SplitOptions(limit=400), on_chunk=on_chunk)  # fmt: skip
    assert seen == list(range(len(result.files))) and len(seen) > 3


def test_cli_split_s3_to_s3(
    s3_client: Any, bucket: str, s3_service: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from workers.cli import cli

    monkeypatch.setenv("S3_ENDPOINT_URL", s3_service.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
    put(s3_client, bucket, "cli.csv", HEADER + records(20) + b"z@x.com,\x00,\n")
    mapping = tmp_path / "map.json"
    mapping.write_text('{"notes": null}')
    outcome = CliRunner().invoke(
        cli,
        ["split", f"s3://{bucket}/cli.csv", f"s3://{bucket}/cli-out", "--limit", "400",
         "--format", "tsv", "--mapping", str(mapping), "--reject-threshold", "0.1"],
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.output.splitlines()
    assert lines[0].startswith(f"s3://{bucket}/cli-out/chunk-00000.tsv\t")
    assert ", 20 rows, " in outcome.output
    assert f"1 rejected records in s3://{bucket}/cli-out/rejects.csv:" in outcome.output
    assert f"s3://{bucket}/cli.csv line 42: NUL byte in record" in outcome.output
    assert rows_of(s3_client, bucket, "cli-out/chunk-00000.tsv", "\t")[0] == ["email", "firstName"]

    outcome = CliRunner().invoke(cli, ["split", f"s3://{bucket}/nope/", "/tmp/unused"])
    assert outcome.exit_code == 1
    assert f"Error: s3://{bucket}/nope/: no objects under this prefix" in outcome.output
