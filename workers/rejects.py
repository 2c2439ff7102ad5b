"""The rejects file: every record the splitter could not submit, with where and why.

A CSV (comma, RFC 4180 quoting) with the columns ``source,line,reason,record``:
``line`` is the record's first line in its source (the header is line 1),
``record`` the raw record bytes, without its line ending, exactly as read
(so it may hold bytes that are not valid UTF-8). It is written to a local
temporary file while splitting and copied to storage when the split ends;
records of any size are streamed, never held whole in memory.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import IO

from workers.storage import Storage

HEADER = b"source,line,reason,record\n"
KEEP_SAMPLES = 100


@dataclass(frozen=True)
class Reject:
    source: str
    line: int
    reason: str


def _quote(text: str) -> bytes:
    return b'"' + text.encode("utf-8").replace(b'"', b'""') + b'"'


class RejectsWriter:
    """Collects rejected records; ``close()`` uploads them to ``uri`` (if there are any)."""

    def __init__(self, storage: Storage, uri: str) -> None:
        self.storage = storage
        self.uri = uri
        self.count = 0
        self.by_source: Counter[str] = Counter()
        self.samples: list[Reject] = []
        self._file: IO[bytes] | None = None
        self._open_record = False
        self._pending_cr = False
        self._spool: IO[bytes] | None = None

    def _handle(self) -> IO[bytes]:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="mkto-rejects-")  # noqa: SIM115
            self._file.write(HEADER)
        return self._file

    def add(self, source: str, line: int, reason: str, record: bytes) -> None:
        """One whole rejected record (its line ending is dropped)."""
        self.begin(source, line, reason)
        self.write(record)
        self.end()

    def begin(self, source: str, line: int, reason: str) -> None:
        """Start a rejected record whose bytes follow through ``write``."""
        handle = self._handle()
        handle.write(b",".join((_quote(source), str(line).encode(), _quote(reason))) + b',"')
        self._open_record = True
        self._pending_cr = False
        self.count += 1
        self.by_source[source] += 1
        if len(self.samples) < KEEP_SAMPLES:
            self.samples.append(Reject(source, line, reason))

    def write(self, data: bytes) -> None:
        handle = self._handle()
        if self._pending_cr:
            handle.write(b"\r")
            self._pending_cr = False
        if data.endswith(b"\r"):  # may be half of a final CRLF: held until we know
            data = data[:-1]
            self._pending_cr = True
        handle.write(data.replace(b'"', b'""'))

    def end(self, strip_line_ending: bool = True) -> None:
        handle = self._handle()
        handle.seek(0, 2)
        if strip_line_ending:
            self._strip_last_newline(handle)
        elif self._pending_cr:
            handle.write(b"\r")
        self._pending_cr = False
        handle.write(b'"\n')
        self._open_record = False

    def begin_spool(self) -> None:
        """Start a record too big to hold: its bytes go to a spool until its reason is known."""
        self._spool = tempfile.TemporaryFile(prefix="mkto-reject-record-")  # noqa: SIM115

    def spool(self, data: bytes) -> None:
        assert self._spool is not None
        self._spool.write(data)

    def end_spool(self, source: str, line: int, reason: str) -> None:
        spool = self._spool
        assert spool is not None
        self._spool = None
        try:
            spool.seek(0)
            self.begin(source, line, reason)
            while block := spool.read(1024 * 1024):
                self.write(block)
            self.end()
        finally:
            spool.close()

    @staticmethod
    def _strip_last_newline(handle: IO[bytes]) -> None:
        position = handle.tell()
        if position == 0:
            return
        handle.seek(position - 1)
        if handle.read(1) == b"\n":
            handle.seek(position - 1)
            handle.truncate()

    def close(self) -> str | None:
        """Upload the rejects file; returns its URI, or None when nothing was rejected."""
        if self._file is None:
            return None
        self._file.flush()
        self._file.seek(0)
        try:
            self.storage.upload_fileobj(self._file, self.uri)
        finally:
            self._file.close()
            self._file = None
        return self.uri
