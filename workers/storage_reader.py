"""A resumable read of one S3 object: the stream ``Storage.open`` returns; and the
stream ``Storage.put_stream`` uploads from.

Kept apart from ``workers.storage`` (which alone talks to S3) because it only
reads a body and asks its opener for a fresh one; it never calls boto3 itself.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workers.errors import StorageUnavailable

log = logging.getLogger(__name__)

READ_RETRIES = 4  # ranged re-GETs of one object before the read fails as unavailable
RETRY_BASE_S = 0.2  # first pause before a re-GET; doubled each time


class LengthedReader:
    """A binary stream over one object that knows its length.

    ``len(reader)`` is the number of bytes not yet read (what
    ``requests_toolbelt``'s ``MultipartEncoder`` asks a part for as it
    streams); ``content_length`` is the whole object's size. It deliberately
    has no ``fileno()``. An S3 GET interrupted mid-stream is resumed with a
    ranged GET pinned to the object's ETag.
    """

    def __init__(
        self,
        uri: str,
        content_length: int,
        opener: Any,
        body: Any,
        retries: int = READ_RETRIES,
    ) -> None:
        self.uri = uri
        self.content_length = content_length
        self._open = opener  # (offset) -> fresh body positioned at offset
        self._body = body
        self._position = 0
        self._retries = retries

    def __len__(self) -> int:
        return self.content_length - self._position

    @property
    def len(self) -> int:
        return len(self)

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = len(self)
        if size == 0 or self._position >= self.content_length:
            return b""
        attempt = 0
        while True:
            try:
                data: bytes = self._body.read(size)
            except Exception as error:  # connection reset, read timeout, incomplete read
                attempt += 1
                if attempt > self._retries or not _is_transient(error):
                    if _is_transient(error):
                        raise StorageUnavailable(
                            f"{self.uri}: read failed at byte {self._position:,} after "
                            f"{self._retries} retries: {error}"
                        ) from error
                    raise
                log.warning("resuming %s at byte %d after %s", self.uri, self._position, error)
                time.sleep(RETRY_BASE_S * 2 ** (attempt - 1))
                self._reopen()
                continue
            if not data and self._position < self.content_length:
                # The server closed the stream early: resume from where we are.
                attempt += 1
                if attempt > self._retries:
                    raise StorageUnavailable(
                        f"{self.uri}: stream ended at byte {self._position:,} "
                        f"of {self.content_length:,}"
                    )
                self._reopen()
                continue
            self._position += len(data)
            return data

    def _reopen(self) -> None:
        self._close_body()
        self._body = self._open(self._position)

    def _close_body(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()

    def close(self) -> None:
        self._close_body()

    def __enter__(self) -> LengthedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_transient(error: BaseException) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(
        names
        & {
            "ConnectionError",
            "ProtocolError",
            "ReadTimeoutError",
            "IncompleteRead",
            "ResponseStreamingError",
            "EndpointConnectionError",
            "ConnectionClosedError",
            "TimeoutError",
        }
    )


class PiecesReader:
    """A read-only binary stream over an iterator of byte strings (for a streamed upload).

    ``read(n)`` pulls pieces as it needs them, so an upload of it holds at most
    the part being sent plus one piece; an error raised by the iterator comes
    out of ``read`` (and so fails the upload).
    """

    def __init__(self, pieces: Iterable[bytes | memoryview]) -> None:
        self._pieces = iter(pieces)
        self._buffer = bytearray()
        self._done = False
        self.size = 0  # bytes handed out so far

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        want = None if size is None or size < 0 else size
        while not self._done and (want is None or len(self._buffer) < want):
            piece = next(self._pieces, None)
            if piece is None:
                self._done = True
                break
            self._buffer += piece
        if want is None or want >= len(self._buffer):
            out = bytes(self._buffer)
            self._buffer.clear()
        else:
            out = bytes(self._buffer[:want])
            del self._buffer[:want]
        self.size += len(out)
        return out


def write_whole(path: Path, reader: PiecesReader) -> None:
    """A local file from ``reader``: there whole, or (when reading fails) left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as handle:
            shutil.copyfileobj(reader, handle, 1024 * 1024)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
