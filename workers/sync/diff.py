"""A source's fingerprints against the last sync's state, a partition at a time; and the
state the sync leaves once its rows' outcomes are known.

Only one partition of the old state and of the source is in memory at a time, so memory
stays bounded whatever the source's size (see ``bench/sync_diff_bench.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from workers.sync.spool import Spool, SpoolPart
from workers.sync.store import U64, Current, Part, SyncStore

Bits = npt.NDArray[np.bool_]


@dataclass
class DiffCounts:
    """What a sync found, over the whole source."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    vanished: int = 0
    duplicate_keys: int = 0  # rows whose key an earlier row of the source had already


@dataclass
class PartDiff:
    """One partition's diff: which of the source's rows are unchanged (their ordinals) and
    which of the old state's rows vanished (their places in the old part)."""

    counts: DiffCounts
    unchanged: U64
    vanished: npt.NDArray[np.intp]


def diff_part(old: Part, new: SpoolPart, *, full: bool = False) -> PartDiff:
    """Compare one partition of the source with the same partition of the old state.

    A row is unchanged when the old state has its key with the same row hash (never in a
    full sync: every row is sent). Every row of a duplicated key is compared on its own.
    """
    counts = DiffCounts()
    place = np.searchsorted(old.keys, new.keys)
    inside = place < len(old.keys)
    found = np.zeros(len(new.keys), np.bool_)
    found[inside] = old.keys[place[inside]] == new.keys[inside]
    same = np.zeros(len(new.keys), np.bool_)
    same[found] = old.rows[place[found]] == new.rows[found]
    if full:
        same[:] = False
    counts.unchanged = int(same.sum())
    counts.changed = int((found & ~same).sum())
    counts.new = int((~found).sum())
    unique = np.unique(new.keys)
    counts.duplicate_keys = len(new.keys) - len(unique)
    gone = ~np.isin(old.keys, unique, assume_unique=True)
    counts.vanished = int(gone.sum())
    return PartDiff(counts, new.ordinals[same], np.flatnonzero(gone))


@dataclass
class SyncDiff:
    """The whole source's diff: ``unchanged[ordinal]`` for each source row."""

    counts: DiffCounts = field(default_factory=DiffCounts)
    unchanged: Bits = field(default_factory=lambda: np.zeros(0, np.bool_))


def diff_source(
    store: SyncStore,
    current: Current | None,
    spool: Spool,
    *,
    full: bool = False,
    on_vanished: Callable[[list[str]], None] | None = None,
) -> SyncDiff:
    """Diff every partition; ``on_vanished`` gets each partition's vanished keys."""
    spool.flush()
    result = SyncDiff(unchanged=np.zeros(spool.rows, np.bool_))
    if current is not None and current.partition_bits != spool.bits:
        raise ValueError("the spool's partitions differ from the state's")
    for part in range(1 << spool.bits):
        new = spool.read(part, texts=False)
        old = store.read_part(current, part)
        diff = diff_part(old, new, full=full)
        result.unchanged[diff.unchanged.astype(np.intp)] = True
        for name in ("new", "changed", "unchanged", "vanished", "duplicate_keys"):
            setattr(result.counts, name, getattr(result.counts, name) + getattr(diff.counts, name))
        if on_vanished is not None and len(diff.vanished):
            on_vanished(store.read_part(current, part, texts=True).key_texts(diff.vanished))
    return result


def next_part(old: Part, new: SpoolPart, synced: Bits) -> Part:
    """The partition the sync leaves: for each key of the source (its last row: the one
    Marketo keeps), the new row hash when that row was synced (``synced[ordinal]``),
    else the old state's row hash, else nothing (the key is sent again next time).
    Keys that vanished from the source leave the state."""
    if not len(new.keys):
        return Part.empty()
    order = np.lexsort((new.ordinals, new.keys))
    keys, ordinals = new.keys[order], new.ordinals[order]
    last = np.ones(len(keys), np.bool_)
    last[:-1] = keys[:-1] != keys[1:]
    take = order[last]
    keys, rows = new.keys[take], new.rows[take].copy()
    ok = synced[new.ordinals[take].astype(np.intp)]
    place = np.searchsorted(old.keys, keys)
    inside = place < len(old.keys)
    found = np.zeros(len(keys), np.bool_)
    found[inside] = old.keys[place[inside]] == keys[inside]
    rows[~ok & found] = old.rows[place[~ok & found]]
    keep = ok | found
    texts = [new.texts[i] for i in take[keep]] if new.texts else []
    del ordinals
    return Part(keys[keep], rows[keep], texts)


def write_state(
    store: SyncStore,
    current: Current | None,
    spool: Spool,
    synced: Bits,
    params_hash: str,
    *,
    keep_old: bool = True,
) -> Current:
    """Write the next generation's parts, then name it in ``current.json``.

    ``synced`` (one flag per source row) is known only after the load ended: a row counts
    as synced when Marketo processed it (with or without a warning) or it was unchanged.
    Until the commit, ``current.json`` names the old generation: a crash loses nothing.
    ``keep_old=False`` (the parameters changed): unsynced rows keep no old fingerprint.
    """
    generation = (current.generation + 1) if current else 1
    total = 0
    for part in range(1 << spool.bits):
        new = spool.read(part)
        old = store.read_part(current if keep_old else None, part)
        data = next_part(old, new, synced)
        store.write_part(generation, part, data)
        total += len(data.keys)
    written = Current(generation, params_hash, spool.bits, total)
    store.commit(written)
    store.prune(written)
    return written
