"""A worker SIGKILLed while it writes a sync's next state leaves the old state in force, and
the next sync still sends every row the killed one did not mark as synced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.services import S3_ACCESS_KEY, S3_SECRET_KEY, Service
from workers.storage import Storage
from workers.sync.diff import diff_source, write_state
from workers.sync.spool import Spool
from workers.sync.store import SyncStore

ROWS = 5_000
BITS = 7  # 128 parts, two objects each: a write long enough to be killed in the middle
ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from pathlib import Path
    from workers.storage import Storage
    from workers.sync.diff import write_state
    from workers.sync.spool import Spool
    from workers.sync.store import SyncStore

    bucket, spool_dir, rows = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    store = SyncStore(Storage(), f"s3://{bucket}/staging", "i", "leads", "k")
    spool = Spool(spool_dir, bits=7)
    for i in range(rows):
        spool.add(f"u{i}@x.com", [f"u{i}@x.com", "changed"])
    synced = np.ones(rows, np.bool_)
    synced[::2] = False  # half of the rows failed in Marketo
    print("writing", flush=True)
    write_state(store, store.current(), spool, synced, "p")
    """
)


def spool_of(directory: Path, city: str) -> Spool:
    spool = Spool(directory, bits=BITS)
    for i in range(ROWS):
        spool.add(f"u{i}@x.com", [f"u{i}@x.com", city])
    return spool


def wait_for(what: str, check: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.02)


def objects(s3_client: Any, bucket: str, prefix: str) -> int:
    return int(s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0))


@pytest.mark.timeout(300)
def test_a_sigkill_while_the_state_is_written_keeps_the_old_state(
    s3_service: Service, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    store = SyncStore(Storage(client=s3_client), f"s3://{bucket}/staging", "i", "leads", "k")
    first = spool_of(tmp_path / "first", "original")
    write_state(store, None, first, np.ones(ROWS, np.bool_), "p")
    env = {**os.environ, "AWS_ENDPOINT_URL": s3_service.url, "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
           "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1",
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    args = [sys.executable, "-c", WRITER, bucket, str(tmp_path / "killed"), str(ROWS)]
    writer = subprocess.Popen(args, env=env, cwd=ROOT)
    try:
        prefix = "staging/_sync/i/leads/k/state-2/"
        wait_for(
            "the next generation's first parts", lambda: objects(s3_client, bucket, prefix) >= 6
        )
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        writer.kill()
    assert 6 <= objects(s3_client, bucket, prefix) < 2 << BITS, "the kill came after the write"
    current = store.current()
    assert current is not None and current.generation == 1, "current.json moved"
    # The next sync compares against generation 1: every changed row is sent again.
    again = spool_of(tmp_path / "again", "changed")
    assert diff_source(store, current, again).counts.changed == ROWS
    # It completes this time; the rows it marks unsynced are the ones sent after it.
    synced = np.ones(ROWS, np.bool_)
    synced[:100] = False
    written = write_state(store, current, again, synced, "p")
    assert written.generation == 2 and written.rows == ROWS
    after = diff_source(store, written, spool_of(tmp_path / "after", "changed"))
    assert np.flatnonzero(~after.unchanged).tolist() == list(range(100))
