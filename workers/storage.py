"""Object storage: ``s3://bucket/key`` URIs (AWS, SeaweedFS, any S3 endpoint) and local paths.

Objects are read as streams, never whole: ``Storage.open`` returns a
``LengthedReader`` that resumes an interrupted GET from where it stopped and
reports how many bytes are left (``len()``), which multipart encoders need.
The boto3 client is built lazily, on first use, from the settings, so a
storage object can be created before a worker process forks.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from workers.errors import InputError, SourceNotFound
from workers.settings import Settings
from workers.storage_reader import LengthedReader
from workers.telemetry import traces

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Location:
    """A parsed URI: an S3 bucket and key, or a local path (``bucket`` is None)."""

    uri: str
    bucket: str | None
    key: str

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    @property
    def is_prefix(self) -> bool:
        return self.uri.endswith("/")


def parse_uri(uri: str) -> Location:
    """``s3://bucket/key`` or a local path (``file://`` accepted)."""
    if uri.startswith("s3://"):
        rest = uri[len("s3://") :]
        bucket, _, key = rest.partition("/")
        if not bucket:
            raise InputError(f"{uri}: not an s3://bucket/key URI")
        return Location(uri, bucket, key)
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    return Location(uri, None, uri)


def join_uri(base: str, name: str) -> str:
    """``base`` (a prefix, with or without a trailing slash) plus a file name."""
    return base.rstrip("/") + "/" + name


def _hidden(relative: str) -> bool:
    """Whether any segment of a path below a prefix starts with ``_`` or ``.``.

    Spark and Hadoop write markers (``_SUCCESS``), checksums (``.part-0.crc``)
    and the half-written attempts of running or failed jobs (``_temporary/``)
    next to the data: none of them is data.
    """
    return any(segment.startswith(("_", ".")) for segment in relative.split("/"))


def _below(key: str, prefix: str) -> str:
    """The part of a listed ``key`` below the ``prefix`` it was listed under (``key`` if none).

    A server that keeps objects as files (SeaweedFS) stores and lists keys
    normalized, ``a//b`` as ``a/b`` and ``/a`` as ``a``, so a key listed under
    ``in//`` may start with ``in/`` only.
    """
    for listed in (prefix, re.sub("/+", "/", prefix).lstrip("/")):
        if key.startswith(listed) and len(key) > len(listed):
            return key[len(listed) :]
    return key


@dataclass(frozen=True)
class ObjectInfo:
    """One object (or local file) of a source."""

    uri: str
    size: int

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]


class Storage:
    """S3 (through ``settings.s3_endpoint_url``) and local files behind one small API."""

    def __init__(self, settings: Settings | None = None, *, client: Any = None) -> None:
        self._settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            settings = self._settings
            self._client = boto3.client(
                "s3",
                endpoint_url=settings.s3_endpoint_url if settings else None,
                region_name=settings.s3_region if settings else None,
                config=Config(retries={"max_attempts": 5, "mode": "standard"}),
            )
        return self._client

    # -- listing ---------------------------------------------------------------

    def list_source(self, uri: str) -> list[ObjectInfo]:
        """The objects of a source: one object, or every object under a prefix in key order.

        A URI ending in ``/`` is a prefix; one without is an object, or a prefix
        when no object has exactly that key. Under a prefix, any path whose part
        below the prefix has a segment starting with ``_`` or ``.`` (``_SUCCESS``,
        ``_temporary/``, ``.crc`` files) is skipped; an object named exactly is read.
        """
        location = parse_uri(uri)
        if not location.is_s3:
            return self._list_local(location)
        if not location.is_prefix and location.key:
            info = self._head(location)
            if info is not None:
                return [info]
            found = self._list_prefix(location, location.key + "/")
            if found:
                return found
            raise SourceNotFound(f"{uri}: no such object")
        return self._list_prefix(location, location.key) or self._not_found_prefix(location)

    def _not_found_prefix(self, location: Location) -> list[ObjectInfo]:
        raise SourceNotFound(f"{location.uri}: no objects under this prefix")

    def _head(self, location: Location) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=location.bucket, Key=location.key)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                self._check_bucket(location)
                return None
            if code in ("NoSuchBucket",):
                raise SourceNotFound(f"{location.uri}: no such bucket") from None
            raise
        return ObjectInfo(location.uri, int(head["ContentLength"]))

    def _check_bucket(self, location: Location) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=location.bucket)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise SourceNotFound(f"{location.uri}: no such bucket") from None
            raise

    def _list_prefix(self, location: Location, prefix: str) -> list[ObjectInfo]:
        from botocore.exceptions import ClientError

        objects: list[ObjectInfo] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=location.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    key = str(item["Key"])
                    if key.endswith("/") or _hidden(_below(key, prefix)):
                        continue
                    objects.append(ObjectInfo(f"s3://{location.bucket}/{key}", int(item["Size"])))
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket":
                raise SourceNotFound(f"{location.uri}: no such bucket") from None
            raise
        # S3 lists in UTF-8 byte order already; sort anyway for other implementations.
        objects.sort(key=lambda info: info.uri.encode())
        return objects

    def _list_local(self, location: Location) -> list[ObjectInfo]:
        path = Path(location.key)
        if path.is_file():
            return [ObjectInfo(str(path), path.stat().st_size)]
        if path.is_dir():
            files = sorted(
                (
                    p
                    for p in path.rglob("*")
                    if p.is_file() and not _hidden(p.relative_to(path).as_posix())
                ),
                key=lambda p: str(p).encode(),
            )
            if not files:
                raise SourceNotFound(f"{location.uri}: no files in this directory")
            return [ObjectInfo(str(p), p.stat().st_size) for p in files]
        raise SourceNotFound(f"{location.uri}: no such file or directory")

    # -- reading ---------------------------------------------------------------

    def open(self, uri: str) -> LengthedReader:
        """A streaming reader over one object (or local file)."""
        location = parse_uri(uri)
        if not location.is_s3:
            try:
                handle: IO[bytes] = open(location.key, "rb")  # noqa: SIM115 - closed by the reader
            except FileNotFoundError:
                raise SourceNotFound(f"{uri}: no such file") from None
            size = os.fstat(handle.fileno()).st_size

            def reopen_local(offset: int) -> IO[bytes]:
                handle.seek(offset)
                return handle

            return LengthedReader(uri, size, reopen_local, handle)

        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=location.bucket, Key=location.key)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise SourceNotFound(f"{uri}: no such object") from None
            if code == "NoSuchBucket":
                raise SourceNotFound(f"{uri}: no such bucket") from None
            raise
        etag = response.get("ETag")
        length = int(response["ContentLength"])

        def reopen_s3(offset: int) -> Any:
            extra = {"IfMatch": etag} if etag else {}
            again = self.client.get_object(
                Bucket=location.bucket, Key=location.key, Range=f"bytes={offset}-", **extra
            )
            return again["Body"]

        return LengthedReader(uri, length, reopen_s3, response["Body"])

    # -- writing ---------------------------------------------------------------

    def put(self, uri: str, pieces: Iterable[bytes | memoryview]) -> int:
        """Write an object (at most a chunk: it is assembled in memory for S3); returns its size."""
        location = parse_uri(uri)
        if not location.is_s3:
            path = Path(location.key)
            path.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            with open(path, "wb") as handle:
                for piece in pieces:
                    handle.write(piece)
                    size += len(piece)
            return size
        body = b"".join(pieces)
        self.client.put_object(Bucket=location.bucket, Key=location.key, Body=body)
        return len(body)

    def upload_file(self, path: str | Path, uri: str) -> None:
        """Copy a local file to ``uri`` (multipart for big files on S3)."""
        location = parse_uri(uri)
        if not location.is_s3:
            target = Path(location.key)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            return
        self.client.upload_file(str(path), location.bucket, location.key, Config=_transfers())

    def upload_fileobj(self, handle: IO[bytes], uri: str) -> None:
        """Copy an open binary file (read from its current position) to ``uri``."""
        location = parse_uri(uri)
        if not location.is_s3:
            target = Path(location.key)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                shutil.copyfileobj(handle, out, 1024 * 1024)
            return
        self.client.upload_fileobj(handle, location.bucket, location.key, Config=_transfers())

    def read_head(self, uri: str, max_bytes: int) -> tuple[bytes, int]:
        """At most the first ``max_bytes`` of an object (one ranged GET), and its whole size."""
        location = parse_uri(uri)
        if not location.is_s3:
            try:
                with open(location.key, "rb") as handle:
                    return handle.read(max_bytes), os.fstat(handle.fileno()).st_size
            except FileNotFoundError:
                raise SourceNotFound(f"{uri}: no such file") from None
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(
                Bucket=location.bucket, Key=location.key, Range=f"bytes=0-{max_bytes - 1}"
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code == "InvalidRange":  # an empty object
                return b"", 0
            if code in ("NoSuchKey", "404", "NotFound", "NoSuchBucket"):
                raise SourceNotFound(f"{uri}: no such object") from None
            raise
        data: bytes = response["Body"].read()
        total = str(response.get("ContentRange", "")).rpartition("/")[2]
        return data, int(total) if total.isdigit() else len(data)

    def read_bytes(self, uri: str) -> bytes:
        """A whole (small) object: results, reports, test fixtures."""
        with self.open(uri) as reader:
            return reader.read()


def _transfers() -> Any:
    """boto3's transfer settings: its own threads, except when tracing.

    Its threads do not carry the caller's trace, so a traced upload runs in the
    caller's thread and its S3 calls are children of the step's span.
    """
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(use_threads=not traces.enabled())
