"""Which rows a sync counts as synced, from the results file's outcomes; the vanished list."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workers.results.rows import Outcome
from workers.storage import Storage
from workers.sync.diff import diff_source, write_state
from workers.sync.outcomes import synced_flags, write_vanished
from workers.sync.spool import Spool
from workers.sync.store import SyncStore


def test_only_rows_marketo_processed_or_that_were_unchanged_count_as_synced() -> None:
    outcomes = [Outcome.PROCESSED, Outcome.FAILED, Outcome.WARNED, Outcome.REJECTED,
                Outcome.VANISHED, Outcome.NOT_SENT, Outcome.UNCHANGED]  # fmt: skip
    assert synced_flags(outcomes, 7).tolist() == [True, False, True, False, False, True, False]
    with pytest.raises(ValueError, match="more source rows"):
        synced_flags([Outcome.PROCESSED] * 3, 2)


def test_vanished_keys_are_listed_in_s3_for_the_user(
    s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    storage = Storage(client=s3_client)
    store = SyncStore(storage, f"s3://{bucket}/staging", "i", "leads", "k")
    first = Spool(tmp_path / "a", bits=2)
    for key in ["a@x.com", "b,comma@x.com", "c\nzoë@x.com"]:
        first.add(key, [key])
    write_state(store, None, first, np.ones(3, np.bool_), "p")
    second = Spool(tmp_path / "b", bits=2)
    second.add("a@x.com", ["a@x.com"])
    uri = f"s3://{bucket}/staging/L1/results/vanished.csv.gz"
    batches: list[list[str]] = []
    diff_source(store, store.current(), second, on_vanished=batches.append)
    write_vanished(storage, uri, batches)
    body = s3_client.get_object(Bucket=bucket, Key="staging/L1/results/vanished.csv.gz")["Body"]
    rows = list(csv.reader(io.StringIO(gzip.decompress(body.read()).decode())))
    assert rows[0] == ["key"] and sorted(rows[1:]) == [["b,comma@x.com"], ["c\nzoë@x.com"]]
