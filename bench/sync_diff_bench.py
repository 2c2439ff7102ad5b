"""Sync-state benchmark: the diff of a 10,000,000-row source against its last state, and
the memory it takes.

    .venv/bin/python bench/sync_diff_bench.py [--rows 10000000] [--dir DIR]

Two processes, each measured on its own (peak RSS from ``getrusage``):

1. the first sync: a 2-column source's fingerprints spooled (key ``u<i>@example.com`` and a
   row hash), diffed against no state, and its state written (every row synced);
2. the second sync: the same source with 1% of rows changed, 0.5% removed and 0.5% added,
   spooled, diffed against the first state (vanished keys streamed out), and the next
   generation written with 1 row in 1,000 not synced.

Hashes are made with numpy (what is measured is the diff and the state, not blake2b); the
state lives in a local directory through the same ``Storage`` calls as S3.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from workers.storage import Storage  # noqa: E402
from workers.sync.diff import diff_source, write_state  # noqa: E402
from workers.sync.spool import Spool  # noqa: E402
from workers.sync.store import SyncStore  # noqa: E402

BATCH = 100_000  # rows the generator makes at a time (its own memory)


def mix(values: np.ndarray) -> np.ndarray:
    """splitmix64: a row number to a well-spread 64-bit hash."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def fill(spool: Spool, rows: int, second: bool) -> None:
    for start in range(0, rows, BATCH):
        ids = np.arange(start, min(rows, start + BATCH), dtype=np.uint64)
        if second:
            ids = ids[ids % np.uint64(200) != 0]  # 0.5% removed
        values = mix(ids ^ np.uint64(0xABCDEF))
        if second:
            values[ids % np.uint64(100) == 1] += np.uint64(1)  # 1% changed
        texts = [f"u{i}@example.com" for i in ids.tolist()]
        spool.add_hashes(mix(ids), values, texts)
    if second:
        added = np.arange(rows, rows + rows // 200, dtype=np.uint64)  # 0.5% added
        spool.add_hashes(mix(added), mix(added), [f"u{i}@example.com" for i in added.tolist()])


def _rss() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(directory: str, rows: int, second: bool) -> dict[str, object]:
    base = Path(directory)
    store = SyncStore(Storage(), str(base / "staging"), "bench", "leads", "nightly")
    spool = Spool(base / ("spool-2" if second else "spool-1"))
    started = time.perf_counter()
    fill(spool, rows, second)
    spooled = time.perf_counter()
    rss = {"spool": _rss()}
    current = store.current()
    vanished = 0

    def count(keys: list[str]) -> None:
        nonlocal vanished
        vanished += len(keys)

    diff = diff_source(store, current, spool, on_vanished=count)
    diffed = time.perf_counter()
    rss["diff"] = _rss()
    synced = np.ones(spool.rows, np.bool_)
    synced[::1000] = False
    written = write_state(store, current, spool, synced, "bench")
    done = time.perf_counter()
    return {
        "sync": 2 if second else 1,
        "rows": spool.rows,
        "counts": diff.counts.__dict__,
        "vanished_listed": vanished,
        "generation": written.generation,
        "spool_s": round(spooled - started, 1),
        "diff_s": round(diffed - spooled, 1),
        "state_write_s": round(done - diffed, 1),
        "peak_rss_mb_after": {**rss, "state_write": _rss()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--dir", default=None, help="where the state and spools go (TMPDIR)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        for second in (False, True):
            with get_context("spawn").Pool(1) as pool:
                print(json.dumps(pool.apply(run, (directory, args.rows, second))), flush=True)


if __name__ == "__main__":
    main()
