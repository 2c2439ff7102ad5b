"""Hostile sources against a real S3 endpoint: huge records, gzip bombs, odd encodings, noise."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.split.split_helpers import put, records, split
from workers.errors import HeaderError, InputError
from workers.storage import Storage

pytestmark = pytest.mark.s3_endpoints

HEADER = b"email,firstName,notes\n"


def temp_bytes(directory: Path) -> int:
    """Bytes held by this process's open files in ``directory`` (unlinked ones included)."""
    total = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(directory)):
                total += os.fstat(int(fd)).st_size
        except OSError:  # closed meanwhile
            continue
    return total


class WatchedReader:
    """A source reader that notes the temp-disk use of the process at every read."""

    def __init__(self, reader: Any, storage: WatchedStorage) -> None:
        self.reader = reader
        self.storage = storage

    def read(self, size: int = -1) -> bytes:
        self.storage.peak_temp = max(self.storage.peak_temp, temp_bytes(self.storage.temp_dir))
        data: bytes = self.reader.read(size)
        return data

    def __enter__(self) -> WatchedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reader.close()


class WatchedStorage(Storage):
    def __init__(self, client: Any, temp_dir: Path) -> None:
        super().__init__(client=client)
        self.temp_dir = temp_dir
        self.peak_temp = 0

    def open(self, uri: str) -> Any:
        return WatchedReader(super().open(uri), self)


def rejects_rows(client: Any, bucket: str, key: str) -> tuple[int, list[list[str]]]:
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return len(body), list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


def test_a_30_mb_record_leaves_a_small_rejects_file_and_no_temp_file_of_its_size(
    s3_client: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    huge = b"big@x.com,B," + b"y" * 30_000_000 + b"\n"
    source = put(s3_client, bucket, "huge.csv", HEADER + records(300) + huge + records(50, 300))
    storage = WatchedStorage(s3_client, tmp_path)
    run = split(storage, source, f"s3://{bucket}/out-huge", limit=20_000,
                block_bytes=1024 * 1024, read_ahead=False)  # fmt: skip
    assert run.result.rows == 350 and run.result.rejects == 1
    reason = (
        "record of 30,000,013 bytes is larger than the 20,000-byte limit; "
        f"record of 30,000,013 bytes, sha256 {hashlib.sha256(huge).hexdigest()}, "
        "first 65,536 bytes kept"
    )
    assert run.result.reject_samples[0].line == 302
    assert run.result.reject_samples[0].reason == reason
    size, rows = rejects_rows(s3_client, bucket, "out-huge/rejects.csv")
    assert size < 100_000
    assert rows[1] == [source, "302", reason, huge[:65_536].decode()]
    # The record never sat whole on local disk (the old spool held all 30 MB, twice).
    assert storage.peak_temp < 200_000, storage.peak_temp


def test_a_long_record_inside_one_block_is_cut_the_same_way(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    long = b"long@x.com,L," + b"z" * 200_000 + b"\n"
    source = put(s3_client, bucket, "long.csv", HEADER + records(200) + long)
    run = split(storage, source, f"s3://{bucket}/out-long", limit=20_000)
    assert run.result.rows == 200 and run.result.rejects == 1
    reason = (
        "record of 200,014 bytes is larger than the 20,000-byte limit; "
        f"record of 200,014 bytes, sha256 {hashlib.sha256(long).hexdigest()}, "
        "first 65,536 bytes kept"
    )
    size, rows = rejects_rows(s3_client, bucket, "out-long/rejects.csv")
    assert rows[1] == [source, "202", reason, long[:65_536].decode()]
    assert size < 70_000


def test_a_gzip_bomb_stops_at_the_configured_ratio(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    bomb = gzip.compress(HEADER + records(1) + b"a@x.com,A,n\n" * 200_000)  # 2.4 MB
    source = put(s3_client, bucket, "bomb.csv.gz", bomb)
    with pytest.raises(InputError) as error:
        split(storage, source, f"s3://{bucket}/out-bomb", max_expansion_ratio=10)
    assert str(error.value) == (
        f"{source}: gzip data decompresses to more than 1,048,576 bytes, over 10 times its "
        f"{len(bomb):,} stored bytes: stopped as a likely gzip bomb; "
        "raise SPLIT_MAX_EXPANSION_RATIO if the data is genuine"
    )
    # Stopped at the first decompressed block: not one file written.
    assert s3_client.list_objects_v2(Bucket=bucket, Prefix="out-bomb/")["KeyCount"] == 0


def test_a_source_larger_than_the_configured_size_stops(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    body = HEADER + records(20_000)
    plain = put(s3_client, bucket, "big.csv", body)
    packed = put(s3_client, bucket, "big2.csv.gz", gzip.compress(body))
    for source, what in ((plain, "data"), (packed, "decompressed data")):
        with pytest.raises(InputError) as error:
            split(storage, source, f"s3://{bucket}/out-size", max_source_bytes=100_000,
                  block_bytes=64 * 1024)  # fmt: skip
        assert str(error.value) == (
            f"{source}: {what} is larger than the 100,000-byte limit of one source object: "
            "stopped; raise SPLIT_MAX_SOURCE_BYTES or split the object"
        )


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_names_the_encoding_to_set(
    s3_client: Any, bucket: str, storage: Storage, codec: str
) -> None:
    text = "email,firstName\na@x.com,Zoë\nb@x.com,Renée\n"
    source = put(s3_client, bucket, f"{codec}.csv", text.encode(codec))
    with pytest.raises(InputError) as error:
        split(storage, source, f"s3://{bucket}/out-{codec}")
    assert str(error.value) == (
        f'{source}: looks like UTF-16 without a byte-order mark: set encoding to "{codec}"'
    )
    run = split(storage, source, f"s3://{bucket}/out-{codec}", encoding=codec)
    chunk = s3_client.get_object(Bucket=bucket, Key=f"out-{codec}/chunk-00000.csv")["Body"]
    assert run.result.rows == 2 and chunk.read() == text.encode("utf-8")


def test_a_semicolon_file_named_csv_says_to_set_input_format(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    source = put(s3_client, bucket, "semi.csv", b"email;firstName\na@x.com;Ann\n")
    with pytest.raises(HeaderError) as error:
        split(storage, source, f"s3://{bucket}/out-semi")
    assert str(error.value) == (
        f"{source}: bad header: the header has one column but contains semicolons: "
        'is the file semicolon-separated? set inputFormat to "ssv"'
    )
    run = split(storage, source, f"s3://{bucket}/out-semi", input_format="ssv",
                output_format="csv")  # fmt: skip
    chunk = s3_client.get_object(Bucket=bucket, Key="out-semi/chunk-00000.csv")["Body"].read()
    assert run.result.rows == 1 and chunk == b"email,firstName\na@x.com,Ann\n"


def test_an_unknown_encoding_says_what_to_set(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    source = put(s3_client, bucket, "enc.csv", HEADER + records(1))
    with pytest.raises(InputError) as error:
        split(storage, source, f"s3://{bucket}/out-enc", encoding="latin-9000")
    assert str(error.value) == (
        f"{source}: unknown encoding 'latin-9000': set encoding to a codec name such as "
        '"utf-8", "latin-1", "cp1252" or "utf-16-le"'
    )


def test_spark_temporary_and_hidden_paths_under_a_prefix_are_not_loaded(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    put(s3_client, bucket, "spark/part-00000.csv", HEADER + records(3))
    put(s3_client, bucket, "spark/part-00001.csv", HEADER + records(4, 3))
    put(s3_client, bucket, "spark/_SUCCESS", b"")
    put(s3_client, bucket, "spark/.part-00001.csv.crc", b"\x00\x01crc")
    attempt = "spark/_temporary/0/_temporary/attempt_1/part-00000.csv"
    put(s3_client, bucket, attempt, HEADER + records(99, 1000))
    put(s3_client, bucket, "spark/nested/.staging/part-9.csv", b"not,even,a,header\n")
    names = [o.uri for o in storage.list_source(f"s3://{bucket}/spark/")]
    assert names == [f"s3://{bucket}/spark/part-00000.csv", f"s3://{bucket}/spark/part-00001.csv"]
    run = split(storage, f"s3://{bucket}/spark/", f"s3://{bucket}/out-spark")
    assert run.result.rows == 7 and [s.rows for s in run.result.sources] == [3, 4]
    # Named explicitly, an object under _temporary/ is still read.
    explicit = split(storage, f"s3://{bucket}/{attempt}", f"s3://{bucket}/out-attempt")
    assert explicit.result.rows == 99


def test_hidden_paths_in_a_local_directory_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "_temporary" / "0").mkdir(parents=True)
    (tmp_path / "_temporary" / "0" / "part-0.csv").write_bytes(HEADER)
    (tmp_path / ".part-0.csv.crc").write_bytes(b"crc")
    (tmp_path / "part-0.csv").write_bytes(HEADER)
    listed = Storage().list_source(str(tmp_path))
    assert [o.uri for o in listed] == [str(tmp_path / "part-0.csv")]


def test_rejects_writer_cuts_a_long_record_given_whole_or_streamed(tmp_path: Path) -> None:
    from workers.split.rejects import RejectsWriter

    record = b'"quoted ""x""",' + b"q" * 100_000 + b"\r\n"
    writer = RejectsWriter(Storage(), str(tmp_path / "rejects.csv"), keep_bytes=1_000)
    writer.add("s.csv", 2, "too big", record)
    writer.begin_spool()
    for start in range(0, len(record), 4096):
        writer.spool(record[start : start + 4096])
    writer.end_spool("s.csv", 3, "too big")
    writer.add("s.csv", 4, "short", b"a,b\r\n")
    writer.close()
    text = (tmp_path / "rejects.csv").read_bytes().decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    note = (
        f"too big; record of 100,017 bytes, sha256 {hashlib.sha256(record).hexdigest()}, "
        "first 1,000 bytes kept"
    )
    assert rows[1:] == [
        ["s.csv", "2", note, record[:1_000].decode()],
        ["s.csv", "3", note, record[:1_000].decode()],
        ["s.csv", "4", "short", "a,b"],
    ]
    assert len(text) < 3_000
