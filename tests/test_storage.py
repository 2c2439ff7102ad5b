"""The S3 storage layer against real endpoints over HTTP: moto and SeaweedFS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.services import Service
from workers.errors import SourceNotFound
from workers.storage import Storage, parse_uri
from workers.storage_reader import LengthedReader

pytestmark = pytest.mark.s3_endpoints


@pytest.fixture
def storage(s3_client: Any) -> Storage:
    return Storage(client=s3_client)


def test_parse_uri() -> None:
    location = parse_uri("s3://bucket/a/b.csv")
    assert (location.bucket, location.key, location.is_prefix) == ("bucket", "a/b.csv", False)
    assert parse_uri("s3://bucket/a/").is_prefix
    assert not parse_uri("/tmp/x.csv").is_s3


def test_prefix_listing_in_key_order_skips_markers(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    for key in ["in/part-00010.csv", "in/part-00002.csv", "in/_SUCCESS", "in/.crc", "other.csv"]:
        s3_client.put_object(Bucket=bucket, Key=key, Body=b"x")
    names = [o.name for o in storage.list_source(f"s3://{bucket}/in/")]
    assert names == ["part-00002.csv", "part-00010.csv"]
    # Without the trailing slash, a key that is not an object is taken as a prefix.
    assert [o.name for o in storage.list_source(f"s3://{bucket}/in")] == names
    assert [o.size for o in storage.list_source(f"s3://{bucket}/other.csv")] == [1]


def test_lengthed_reader_reports_remaining_bytes_for_multipart(
    s3_client: Any, bucket: str, storage: Storage
) -> None:
    from requests_toolbelt import MultipartEncoder

    body = b"email\n" + b"a@example.com\n" * 10_000
    s3_client.put_object(Bucket=bucket, Key="m.csv", Body=body)
    reader = storage.open(f"s3://{bucket}/m.csv")
    assert len(reader) == reader.content_length == len(body)
    assert not hasattr(reader, "fileno")
    encoder = MultipartEncoder({"file": ("m.csv", reader, "text/csv")})
    streamed = b""
    while part := encoder.read(8192):
        streamed += part
    assert len(streamed) == encoder.len
    assert body in streamed and len(reader) == 0


class FlakyBody:
    """Serves part of the data, then fails like a dropped connection."""

    def __init__(self, data: bytes, fail_after: int) -> None:
        self.data = data
        self.position = 0
        self.fail_after = fail_after

    def read(self, size: int = -1) -> bytes:
        if self.position >= self.fail_after:
            from urllib3.exceptions import ProtocolError

            raise ProtocolError("Connection broken: IncompleteRead")
        chunk = self.data[self.position : min(self.position + size, self.fail_after)]
        self.position += len(chunk)
        return chunk


def test_interrupted_read_resumes_with_a_ranged_get(
    s3_client: Any, bucket: str, storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workers.storage_reader

    monkeypatch.setattr(workers.storage_reader, "RETRY_BASE_S", 0.0)
    data = bytes(range(256)) * 1000
    s3_client.put_object(Bucket=bucket, Key="r.bin", Body=data)
    real = storage.open(f"s3://{bucket}/r.bin")
    reader = LengthedReader(real.uri, real.content_length, real._open, FlakyBody(data, 70_000))
    out = b""
    while block := reader.read(16_384):
        out += block
    assert out == data


def test_missing_sources(bucket: str, storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match=r"^s3://.*/x\.csv: no such object$"):
        storage.list_source(f"s3://{bucket}/x.csv")
    with pytest.raises(SourceNotFound, match=r"no such file or directory$"):
        storage.list_source(str(tmp_path / "nope.csv"))


def test_put_and_read_back(bucket: str, storage: Storage, tmp_path: Path) -> None:
    assert storage.put(f"s3://{bucket}/o/x.csv", [b"a,b\n", b"1,2\n"]) == 8
    assert storage.read_bytes(f"s3://{bucket}/o/x.csv") == b"a,b\n1,2\n"
    local = str(tmp_path / "deep" / "x.csv")
    storage.put(local, [b"z\n"])
    assert storage.read_bytes(local) == b"z\n"
    assert [o.name for o in storage.list_source(str(tmp_path))] == ["x.csv"]


def test_a_doubled_slash_in_a_prefix_never_loads_a_marker(
    s3_service: Service, s3_client: Any, bucket: str, storage: Storage
) -> None:
    for key in ["in/_SUCCESS", "in/.part-0.csv.crc", "in/part-0.csv"]:
        s3_client.put_object(Bucket=bucket, Key=key, Body=b"email\nx@example.com\n")
    if s3_service.name == "seaweedfs":
        # Keys are file paths there: "in//" lists the objects under "in/".
        assert [o.name for o in storage.list_source(f"s3://{bucket}/in//")] == ["part-0.csv"]
    else:
        # Keys are literal (as on AWS): no key starts with "in//".
        with pytest.raises(SourceNotFound, match="no objects under this prefix"):
            storage.list_source(f"s3://{bucket}/in//")
