"""The sync state in a real S3 endpoint: the diff, the next generation, and crash safety."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workers.storage import Storage
from workers.sync.diff import diff_source, write_state
from workers.sync.fingerprint import key_hash, row_hash
from workers.sync.spool import Spool
from workers.sync.store import Current, SyncStore

PARAMS = "p1"


@pytest.fixture
def store(s3_client: Any, bucket: str) -> SyncStore:
    return SyncStore(
        Storage(client=s3_client), f"s3://{bucket}/staging", "123-ABC", "leads", "nightly"
    )


def spool_of(tmp_path: Path, rows: list[tuple[str, str]], name: str = "s") -> Spool:
    spool = Spool(tmp_path / name, bits=3)
    for email, city in rows:
        spool.add(email, [email, city])
    return spool


def first_sync(store: SyncStore, tmp_path: Path, rows: list[tuple[str, str]]) -> Current:
    spool = spool_of(tmp_path, rows, "first")
    diff = diff_source(store, None, spool)
    assert diff.counts.new == len(rows) and not diff.unchanged.any()
    return write_state(store, None, spool, np.ones(spool.rows, np.bool_), PARAMS)


@pytest.mark.s3_endpoints
def test_a_second_sync_sends_only_new_and_changed_rows_and_lists_vanished_keys(
    store: SyncStore, tmp_path: Path
) -> None:
    before = [(f"u{i}@x.com", "Paris") for i in range(100)]
    first_sync(store, tmp_path, before)
    current = store.current()
    assert current is not None and current.generation == 1 and current.rows == 100
    now = [(e, "Lyon" if i < 5 else c) for i, (e, c) in enumerate(before[:-3])]
    now += [("new1@x.com", "Nice"), ("new2@x.com", "Nice")]
    vanished: list[str] = []
    diff = diff_source(store, current, spool_of(tmp_path, now), on_vanished=vanished.extend)
    c = diff.counts
    assert (c.new, c.changed, c.unchanged, c.vanished) == (2, 5, 92, 3)
    assert sorted(vanished) == sorted(e for e, _ in before[-3:])
    sent = [now[i][0] for i in np.flatnonzero(~diff.unchanged)]
    assert sent == [e for e, _ in now[:5]] + ["new1@x.com", "new2@x.com"]


def test_rows_marketo_did_not_process_are_sent_again_next_time(
    store: SyncStore, tmp_path: Path
) -> None:
    before = [(f"u{i}@x.com", "Paris") for i in range(20)]
    first_sync(store, tmp_path, before)
    now = [(e, "Rome") for e, _ in before] + [("fresh@x.com", "Oslo")]
    spool = spool_of(tmp_path, now)
    current = store.current()
    diff = diff_source(store, current, spool)
    assert diff.counts.changed == 20
    synced = np.ones(spool.rows, np.bool_)
    synced[[3, 7, 20]] = False  # two changed rows and the new one failed in Marketo
    write_state(store, current, spool, synced, PARAMS)
    again = diff_source(store, store.current(), spool_of(tmp_path, now, "again"))
    assert sorted(np.flatnonzero(~again.unchanged).tolist()) == [3, 7, 20]
    assert (again.counts.changed, again.counts.new) == (2, 1)


def test_a_crash_before_the_commit_leaves_the_old_state(store: SyncStore, tmp_path: Path) -> None:
    before = [(f"u{i}@x.com", "Paris") for i in range(30)]
    first_sync(store, tmp_path, before)
    now = [(e, "Berlin") for e, _ in before]
    spool = spool_of(tmp_path, now)
    # The next generation's parts are written, the worker dies before current.json moves.
    for part in range(1 << spool.bits):
        store.write_part(2, part, store.read_part(None, part))
    current = store.current()
    assert current is not None and current.generation == 1
    assert diff_source(store, current, spool).counts.changed == 30


@pytest.mark.s3_endpoints
def test_full_sync_sends_every_row_and_old_generations_are_pruned(
    store: SyncStore, tmp_path: Path
) -> None:
    rows = [(f"u{i}@x.com", "Paris") for i in range(10)]
    first_sync(store, tmp_path, rows)
    for n in range(3):
        spool = spool_of(tmp_path, rows, f"n{n}")
        current = store.current()
        diff = diff_source(store, current, spool, full=True)
        assert diff.counts.unchanged == 0 and diff.counts.changed == 10
        write_state(store, current, spool, np.ones(spool.rows, np.bool_), PARAMS)
    current = store.current()
    assert current is not None and current.generation == 4
    generations = {
        uri.split("/state-")[1].split("/")[0] for uri in store._objects() if "/state-" in uri
    }
    assert generations == {"3", "4"}


def test_duplicate_keys_are_counted_and_the_last_row_is_the_state(
    store: SyncStore, tmp_path: Path
) -> None:
    rows = [("a@x.com", "Paris"), ("b@x.com", "Rome"), ("A@x.com ", "Oslo")]
    spool = spool_of(tmp_path, rows)
    assert diff_source(store, None, spool).counts.duplicate_keys == 1
    write_state(store, None, spool, np.ones(3, np.bool_), PARAMS)
    again = diff_source(store, store.current(), spool_of(tmp_path, [("A@x.com", "Oslo")], "b"))
    assert again.counts.unchanged == 1 and again.counts.vanished == 1


def test_fingerprints_ignore_surrounding_space_and_key_case_but_not_content() -> None:
    assert key_hash(" Ann@X.com") == key_hash("ann@x.com")
    assert row_hash([" a", "b "]) == row_hash(["a", "b"])
    assert row_hash(["a", "b"]) != row_hash(["a", "c"]) != row_hash(["ab", ""])
    assert row_hash(["e\u0301"]) == row_hash(["\u00e9"])


def test_after_a_parameter_change_unsynced_rows_keep_no_old_fingerprint(
    store: SyncStore, tmp_path: Path
) -> None:
    rows = [(f"u{i}@x.com", "Paris") for i in range(10)]
    first_sync(store, tmp_path, rows)
    spool = spool_of(tmp_path, rows)
    current = store.current()
    synced = np.ones(10, np.bool_)
    synced[4] = False
    written = write_state(store, current, spool, synced, "p2", keep_old=False)
    assert (written.generation, written.rows, written.params_hash) == (2, 9, "p2")
    again = diff_source(store, written, spool_of(tmp_path, rows, "again"))
    assert np.flatnonzero(~again.unchanged).tolist() == [4]
