"""The source's fingerprints, spilled to local files by partition as rows are read.

Each partition ``NNN`` is two files in the spool's directory: ``p-NNN.u64`` (uint64
triples: key hash, row hash, the row's ordinal in the source, 0-based) and ``p-NNN.keys``
(the rows' keys, JSON strings one a line, in the same order). Memory stays at
``FLUSH_ROWS`` rows whatever the source's size; a partition is read back whole (about
1/64 of the source's rows).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workers.sync.fingerprint import key_hash, row_hash
from workers.sync.store import PARTITION_BITS, U64, partition_of

FLUSH_ROWS = 65_536


@dataclass(frozen=True)
class SpoolPart:
    """One partition of the source: its rows' hashes, ordinals and keys, in source order."""

    keys: U64
    rows: U64
    ordinals: U64
    texts: list[bytes]  # each row's key as a JSON string (its line in the file, no LF)


class Spool:
    """Fingerprints of a source's rows, in order, spilled by partition under ``directory``."""

    def __init__(self, directory: Path, bits: int = PARTITION_BITS) -> None:
        self.directory = directory
        self.bits = bits
        self.rows = 0
        directory.mkdir(parents=True, exist_ok=True)
        self._keys: list[int] = []
        self._rows: list[int] = []
        self._texts: list[str] = []

    def add(self, key: str, cells: Iterable[str]) -> None:
        """The next source row: its lookup value and its mapped cells."""
        self._keys.append(key_hash(key))
        self._rows.append(row_hash(list(cells)))
        self._texts.append(key)
        if len(self._keys) >= FLUSH_ROWS:
            self.flush()

    def add_hashes(self, keys: U64, rows: U64, texts: list[str]) -> None:
        """Rows already hashed (a benchmark's, or a vectorised caller's)."""
        self.flush()
        self._write(keys, rows, texts)

    def flush(self) -> None:
        if self._keys:
            keys = np.array(self._keys, np.uint64)
            rows = np.array(self._rows, np.uint64)
            self._write(keys, rows, self._texts)
            self._keys, self._rows, self._texts = [], [], []

    def _write(self, keys: U64, rows: U64, texts: list[str]) -> None:
        ordinals = np.arange(self.rows, self.rows + len(keys), dtype=np.uint64)
        self.rows += len(keys)
        parts = partition_of(keys, self.bits)
        order = np.argsort(parts, kind="stable")
        bounds = np.searchsorted(parts[order], np.arange((1 << self.bits) + 1))
        for part in np.flatnonzero(np.diff(bounds)):
            take = order[bounds[part] : bounds[part + 1]]
            triples = np.stack([keys[take], rows[take], ordinals[take]], axis=1)
            with open(self._path(int(part), "u64"), "ab") as handle:
                handle.write(triples.tobytes())
            with open(self._path(int(part), "keys"), "a", encoding="utf-8") as handle:
                handle.writelines(json.dumps(texts[i]) + "\n" for i in take)

    def _path(self, part: int, suffix: str) -> Path:
        return self.directory / f"p-{part:03d}.{suffix}"

    def read(self, part: int, *, texts: bool = True) -> SpoolPart:
        """One partition's rows (none when the source had none in it)."""
        self.flush()
        path = self._path(part, "u64")
        if not path.exists():
            empty = np.zeros(0, np.uint64)
            return SpoolPart(empty, empty, empty, [])
        triples = np.fromfile(path, np.uint64).reshape(-1, 3)
        names: list[bytes] = []
        if texts:
            names = self._path(part, "keys").read_bytes().split(b"\n")[:-1]
        return SpoolPart(
            np.ascontiguousarray(triples[:, 0]),
            np.ascontiguousarray(triples[:, 1]),
            np.ascontiguousarray(triples[:, 2]),
            names,
        )
