"""What the split tests share: objects on S3, a split run to the end, and for the property
tests the scanners to run, a field alphabet and RFC 4180 I/O."""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

import workers.split.records
from workers.split.run import SplitOptions, SplitRun
from workers.storage import Storage

try:
    from workers.split import _textscan
except ImportError:  # not built: the Python scanners are all there is (and are tested)
    _textscan = None

FIELD = st.text(alphabet=st.sampled_from(list('ab,;\t"\n\r xé€😀Z')), min_size=0, max_size=12)
EXAMPLES = int(os.environ.get("SPLIT_EXAMPLES", "150"))
FORMAT_DELIMITERS = {"csv": ",", "tsv": "\t", "ssv": ";"}
# Every scanner: the C one for each instruction set usable here, and the pure-Python one
# (UTF-8 checked by the numpy test, or by decoding when numpy is missing).
C_SCANNERS = [f"c-{name}" for name in (_textscan.implementations() if _textscan else [])]
SCANNERS = [*C_SCANNERS, "python-vectorized", "python-decode"]
VALIDATION_PATHS = st.sampled_from(SCANNERS)


@contextlib.contextmanager
def scanner(path: str) -> Iterator[None]:
    """Run the splitter with one scanner (see ``SCANNERS``)."""
    from unittest import mock

    import numpy

    if path.startswith("c-"):
        assert _textscan is not None
        previous = _textscan.use(path[2:])
        try:
            with mock.patch.object(workers.split.records, "_c", _textscan):
                yield
        finally:
            _textscan.use(previous)
        return
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(workers.split.records, "_c", None))
        if path == "python-vectorized":  # even tiny inputs take the vectorized path
            stack.enter_context(mock.patch.object(workers.split.records, "_np", numpy))
            stack.enter_context(mock.patch.object(workers.split.records, "VECTOR_MIN_BYTES", 0))
        else:
            stack.enter_context(mock.patch.object(workers.split.records, "_np", None))
        yield


def quoted_field(value: str, delimiter: str) -> str:
    if any(c in value for c in (delimiter, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def encode_rows(rows: list[list[str]], delimiter: str, ending: str) -> bytes:
    """RFC 4180, quoting every field that needs it (a lone CR too, unlike the csv module)."""
    lines = []
    for row in rows:
        line = delimiter.join(quoted_field(v, delimiter) for v in row)
        lines.append('""' if line == "" else line)  # a lone empty field stays a record
    return "".join(line + ending for line in lines).encode("utf-8")


def parse_rows(data: bytes, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter))


def put(client: Any, bucket: str, key: str, body: bytes) -> str:
    """Store ``body`` at ``key``; its s3:// URI."""
    client.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def records(n: int, start: int = 0) -> bytes:
    """``n`` plain lead records (email, firstName, notes) without a header."""
    return b"".join(f"p{i}@example.com,Ann {i},n\n".encode() for i in range(start, start + n))


def split(storage: Storage, source: str, dest: str, **options: Any) -> SplitRun:
    """A split of ``source`` run to its end (its ``result`` holds the figures)."""
    run = SplitRun(source, dest, storage=storage, options=SplitOptions(**options))
    list(run)
    return run
