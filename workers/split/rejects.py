"""The rejects file: every record the splitter could not submit, with where and why.

A CSV (comma, RFC 4180 quoting) with the columns ``source,line,reason,record``:
``line`` is the record's first line in its source (the header is line 1),
``record`` the raw record bytes, without its line ending, exactly as read
(so it may hold bytes that are not valid UTF-8). A record longer than
``KEEP_RECORD_BYTES`` keeps only its first bytes there; its reason then gives
its full length and the SHA-256 of all its bytes as read (line ending included,
as ``sed -n <line>p | sha256sum`` prints it for a one-line record), so the file
stays small however big the record. It is written to a local temporary file
while splitting and copied to storage when the split ends; no record is ever
held whole in memory or on disk.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import IO

from workers.storage import Storage

HEADER = b"source,line,reason,record\n"
KEEP_SAMPLES = 100
KEEP_RECORD_BYTES = 64 * 1024  # of a longer record, only this much goes to the file


@dataclass(frozen=True)
class Reject:
    source: str
    line: int
    reason: str


def _quote(text: str) -> bytes:
    return b'"' + text.encode("utf-8").replace(b'"', b'""') + b'"'


class RejectsWriter:
    """Collects rejected records; ``close()`` uploads them to ``uri`` (if there are any)."""

    def __init__(self, storage: Storage, uri: str, keep_bytes: int = KEEP_RECORD_BYTES) -> None:
        self.storage = storage
        self.keep_bytes = keep_bytes
        self.uri = uri
        self.count = 0
        self.by_source: Counter[str] = Counter()
        self.samples: list[Reject] = []
        self._file: IO[bytes] | None = None
        self._open_record = False
        self._pending_cr = False
        self._spool: _Spool | None = None

    def _handle(self) -> IO[bytes]:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="mkto-rejects-")  # noqa: SIM115
            self._file.write(HEADER)
        return self._file

    def add(self, source: str, line: int, reason: str, record: bytes) -> None:
        """One whole rejected record (its line ending is dropped; a long one is cut)."""
        if len(record) > self.keep_bytes:
            self.begin_spool()
            self.spool(record)
            self.end_spool(source, line, reason)
            return
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
        """Start a record too big to hold; its reason is known only at ``end_spool``."""
        self._spool = _Spool(self.keep_bytes)

    def spool(self, data: bytes) -> None:
        assert self._spool is not None
        self._spool.add(data)

    def end_spool(self, source: str, line: int, reason: str) -> None:
        spool = self._spool
        assert spool is not None
        self._spool = None
        if spool.size <= self.keep_bytes:
            self.begin(source, line, reason)
            self.write(bytes(spool.kept))
            self.end()
            return
        note = (
            f"; record of {spool.size:,} bytes, sha256 {spool.digest.hexdigest()}, "
            f"first {len(spool.kept):,} bytes kept"
        )
        self.begin(source, line, reason + note)
        self.write(bytes(spool.kept))
        self.end(strip_line_ending=False)  # the cut is mid-record: no line ending to drop

    @staticmethod
    def _strip_last_newline(handle: IO[bytes]) -> None:
        """Drop a final LF or CRLF (the record's opening quote is never part of it)."""
        position = handle.tell()
        for byte in (b"\n", b"\r"):
            if position == 0:
                return
            handle.seek(position - 1)
            if handle.read(1) != byte:
                return
            position -= 1
            handle.seek(position)
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


class _Spool:
    """A record streamed through: its length, its SHA-256 and its first bytes."""

    def __init__(self, keep_bytes: int) -> None:
        self.keep_bytes = keep_bytes
        self.kept = bytearray()
        self.size = 0
        self.digest = hashlib.sha256()

    def add(self, data: bytes) -> None:
        self.size += len(data)
        self.digest.update(data)
        room = self.keep_bytes - len(self.kept)
        if room > 0:
            self.kept += data[:room]
