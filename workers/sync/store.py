"""A sync key's state in object storage, one generation at a time.

``<staging>/_sync/<instance>/<object>/<sync key>/``:

- ``current.json``: ``{"generation": N, "params_hash": ..., "partition_bits": B, "rows": R}``,
  the generation the last completed sync left. It is overwritten (one PUT, atomic in S3)
  only after a generation's parts are all written, so a crash at any point leaves either
  the old generation named or the new one complete.
- ``state-<N>/part-NNN.bin``: the rows whose key hash's top ``B`` bits are ``NNN``, sorted
  by key hash: a 16-byte header (``MAGIC``, the row count as uint64), the key hashes
  (uint64 little-endian), the row hashes in the same order.
- ``state-<N>/part-NNN.keys.gz``: the same rows' keys (JSON strings, one a line, in the
  same order), for listing the keys that vanished from the source.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from workers.errors import SourceNotFound
from workers.storage import Storage, join_uri, parse_uri

log = logging.getLogger(__name__)

MAGIC = b"MKSYNC01"
PARTITION_BITS = 6  # 64 parts: about 2.5 MB each at 10,000,000 rows
KEEP_GENERATIONS = 2  # the current one and the one before it
_SAFE = re.compile(r"[^A-Za-z0-9._-]")

U64 = npt.NDArray[np.uint64]


def _segment(text: str) -> str:
    return _SAFE.sub(lambda m: f"%{ord(m.group()):02X}", text) or "_"


@dataclass(frozen=True)
class Current:
    """What ``current.json`` names."""

    generation: int
    params_hash: str
    partition_bits: int = PARTITION_BITS
    rows: int = 0

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode()


@dataclass(frozen=True)
class Part:
    """One partition of a generation: sorted key hashes, their row hashes and keys."""

    keys: U64
    rows: U64
    texts: Sequence[bytes] = ()  # the keys as JSON strings, undecoded (see ``key_texts``)

    def key_texts(self, places: Iterable[int]) -> list[str]:
        """The keys at ``places``, decoded."""
        return [json.loads(self.texts[i]) for i in places]

    @classmethod
    def empty(cls) -> Part:
        return cls(np.zeros(0, np.uint64), np.zeros(0, np.uint64), [])


def partition_of(key_hashes: U64, bits: int) -> npt.NDArray[np.intp]:
    """Each key hash's partition: its top ``bits`` bits."""
    return (key_hashes >> np.uint64(64 - bits)).astype(np.intp)


class SyncStore:
    """The state of one sync key of one object on one Marketo instance."""

    def __init__(
        self, storage: Storage, staging_uri: str, instance: str, object_name: str, sync_key: str
    ) -> None:
        self.storage = storage
        parts = ("_sync", _segment(instance), _segment(object_name), _segment(sync_key))
        self.root = join_uri(staging_uri, "/".join(parts))

    def _uri(self, name: str) -> str:
        return join_uri(self.root, name)

    def part_uri(self, generation: int, part: int, suffix: str = "bin") -> str:
        return self._uri(f"state-{generation}/part-{part:03d}.{suffix}")

    def current(self) -> Current | None:
        """The generation the last completed sync left, None before the first."""
        try:
            data = json.loads(self.storage.read_bytes(self._uri("current.json")))
        except SourceNotFound:
            return None
        return Current(**data)

    def read_part(self, current: Current | None, part: int, *, texts: bool = False) -> Part:
        """One partition of ``current`` (empty without a state)."""
        if current is None:
            return Part.empty()
        data = self.storage.read_bytes(self.part_uri(current.generation, part))
        if data[:8] != MAGIC:
            raise ValueError(f"{self.part_uri(current.generation, part)}: not a sync state part")
        count = int.from_bytes(data[8:16], "little")
        keys = np.frombuffer(data, np.uint64, count, 16).copy()
        rows = np.frombuffer(data, np.uint64, count, 16 + 8 * count).copy()
        names: list[bytes] = []
        if texts:
            uri = self.part_uri(current.generation, part, "keys.gz")
            raw = gzip.decompress(self.storage.read_bytes(uri))
            names = raw.split(b"\n")[:-1]
        return Part(keys, rows, names)

    def write_part(self, generation: int, part: int, data: Part) -> None:
        """Write one partition of a generation being built (not yet current)."""
        order = np.argsort(data.keys, kind="stable")
        keys, rows = data.keys[order], data.rows[order]
        header = MAGIC + len(keys).to_bytes(8, "little")
        self.storage.put(self.part_uri(generation, part), [header, keys.tobytes(), rows.tobytes()])
        texts = [data.texts[i] for i in order] if len(data.texts) else [b'""'] * len(keys)
        lines = b"\n".join(texts) + b"\n" if texts else b""
        self.storage.put(self.part_uri(generation, part, "keys.gz"), [gzip.compress(lines, 5)])

    def commit(self, current: Current) -> None:
        """Name ``current`` as the state: one PUT, after every part of it is written."""
        self.storage.put(self._uri("current.json"), [current.to_json()])
        fields = {"generation": current.generation, "rows": current.rows}
        log.info("sync state committed", extra=fields)

    def prune(self, current: Current, keep: int = KEEP_GENERATIONS) -> int:
        """Delete generations older than the ``keep`` newest; returns how many objects went."""
        doomed = [uri for uri in self._objects() if _generation(uri) <= current.generation - keep]
        for uri in doomed:
            _delete(self.storage, uri)
        return len(doomed)

    def _objects(self) -> Iterator[str]:
        location = parse_uri(self.root)
        if not location.is_s3:
            base = Path(location.key)
            if base.exists():
                yield from (str(path) for path in base.rglob("*") if path.is_file())
            return
        pages = self.storage.client.get_paginator("list_objects_v2")
        prefix = location.key.rstrip("/") + "/"
        for page in pages.paginate(Bucket=location.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield f"s3://{location.bucket}/{item['Key']}"


def _generation(uri: str) -> int:
    match = re.search(r"/state-(\d+)/", uri)
    return int(match.group(1)) if match else 1 << 62


def _delete(storage: Storage, uri: str) -> None:
    location = parse_uri(uri)
    if location.is_s3:
        storage.client.delete_object(Bucket=location.bucket, Key=location.key)
    else:
        Path(location.key).unlink(missing_ok=True)
