"""What a load's row outcomes mean for its sync: which rows count as synced, and the list
of keys that vanished from the source (``<staging>/<load>/results/vanished.csv.gz``)."""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterable, Iterator

import numpy as np

from workers.results.rows import Outcome
from workers.storage import Storage
from workers.sync.diff import Bits

VANISHED_PATH = "results/vanished.csv.gz"
VANISHED_COLUMNS = ("key",)
# Marketo processed the row (a warning is no failure), or it did not need sending.
SYNCED = frozenset({Outcome.PROCESSED, Outcome.WARNED, Outcome.UNCHANGED})


def synced_flags(outcomes: Iterable[Outcome], rows: int) -> Bits:
    """One flag per source row, in source order: whether it counts as synced. Rows the
    results file does not reach (a load that died before writing them) are not."""
    flags = np.zeros(rows, np.bool_)
    place = 0
    for outcome in outcomes:
        if outcome is Outcome.VANISHED:
            continue
        if place >= rows:
            raise ValueError(f"the results file has more source rows than the {rows:,} synced")
        flags[place] = outcome in SYNCED
        place += 1
    return flags


def encode_vanished(batches: Iterable[list[str]]) -> Iterator[bytes]:
    """The vanished list's bytes (gzip of a CSV: a ``key`` header, a key a line)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(VANISHED_COLUMNS)
    for batch in batches:
        writer.writerows([key] for key in batch)
        yield packer.compress(text.getvalue().encode("utf-8", "replace"))
        text.seek(0)
        text.truncate()
    yield packer.compress(text.getvalue().encode("utf-8", "replace")) + packer.flush()


def write_vanished(storage: Storage, uri: str, batches: Iterable[list[str]]) -> int:
    """Stream the vanished list to ``uri``; returns its size in bytes."""
    return storage.put_stream(uri, encode_vanished(batches))
