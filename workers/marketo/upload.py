"""A file to upload, streamed from any readable without holding it in memory.

``MultipartEncoder`` needs every part's length up front (a botocore
``StreamingBody`` has none), and a retry must send the file again from its
first byte, so an upload is a *factory* of fresh readables plus the length.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from workers.errors import MarketoTransportError


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Upload:
    """``open()`` returns a new readable at byte 0 each time; ``length`` is its size in bytes.

    ``length`` may be left out when the readable knows it (``len(reader)`` or
    ``reader.len``, as an S3 reader that reports ``ContentLength`` does).
    """

    open: Callable[[], Readable]
    length: int | None = None
    filename: str = "import.csv"
    key: str = ""  # names the file for good (the chunk's URI), for importers that keep state

    @classmethod
    def from_bytes(cls, data: bytes, filename: str = "import.csv", key: str = "") -> Upload:
        return cls(lambda: io.BytesIO(data), len(data), filename, key)

    @classmethod
    def from_path(cls, path: str | Path, filename: str | None = None) -> Upload:
        file = Path(path)
        return cls(lambda: file.open("rb"), file.stat().st_size, filename or file.name)


class ExactReader:
    """Exposes exactly ``length`` bytes of ``source`` and a ``len`` of what is left.

    It has no ``fileno``/``getvalue`` on purpose: ``MultipartEncoder`` would
    then stat or copy the source. A source that ends early raises instead of
    letting the encoder wait forever for bytes that never come.
    """

    def __init__(self, source: Readable, length: int) -> None:
        if length < 0:
            raise ValueError("length must be >= 0")
        self._source = source
        self._left = length
        self._length = length

    @property
    def len(self) -> int:
        return self._left

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        chunk = self._source.read(want)
        if not chunk:
            raise MarketoTransportError(
                "source",
                f"upload source ended after {self._length - self._left} of {self._length} bytes",
                maybe_sent=False,
            )
        self._left -= len(chunk)
        return bytes(chunk)

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if callable(close):
            close()


def open_upload(upload: Upload) -> ExactReader:
    """A fresh exact-length reader for one attempt."""
    source = upload.open()
    length = upload.length if upload.length is not None else _known_length(source)
    return ExactReader(source, length)


def _known_length(source: Any) -> int:
    if hasattr(source, "__len__"):
        return len(source)
    if isinstance(getattr(source, "len", None), int):
        return int(source.len)
    raise ValueError(
        "the upload's length is unknown: pass Upload(length=...) or a reader with len()"
    )
