"""Reading ahead and writing behind: same results as inline I/O, errors surface, threads end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import wait_for
from workers.errors import InputError
from workers.split.background_io import BackgroundWrites, read_ahead
from workers.split.run import SplitOptions, SplitRun
from workers.storage import Storage


def _reading_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "split-read"]


def test_read_ahead_yields_every_block_in_order() -> None:
    blocks = [bytes([i]) * (i + 1) for i in range(50)]
    assert list(read_ahead(iter(blocks), depth=2)) == blocks


def test_an_error_while_reading_ahead_is_raised_in_the_reader() -> None:
    def failing() -> Iterator[bytes]:
        yield b"a"
        raise InputError("gzip data is corrupt", source="s3://b/k")

    consumer = read_ahead(failing())
    assert next(consumer) == b"a"
    with pytest.raises(InputError, match="corrupt"):
        next(consumer)
    assert not _reading_threads()


def test_a_reader_that_stops_early_stops_the_reading_thread() -> None:
    produced: list[int] = []

    def endless() -> Iterator[bytes]:
        while True:
            produced.append(1)
            yield b"x" * 10

    consumer = read_ahead(endless(), depth=2)
    assert next(consumer) == b"x" * 10
    wait_for(lambda: len(produced) >= 3, timeout=10)  # the thread filled the queue and waits
    consumer.close()
    assert not _reading_threads()
    assert len(produced) <= 5  # it never ran far ahead


def test_files_written_behind_are_complete_and_reported_in_order(tmp_path: Path) -> None:
    writes = BackgroundWrites(Storage(), max_pending=2)
    uris = [str(tmp_path / f"f{i}") for i in range(6)]
    for i, uri in enumerate(uris):
        writes.submit(uri, [b"head\n", memoryview(b"row %d\n" % i)])
    assert writes.written(6, wait=True) == 6
    writes.close()
    assert [Path(u).read_bytes() for u in uris] == [b"head\nrow %d\n" % i for i in range(6)]


def test_a_failed_write_fails_the_split(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"a,b\n" + b"1,2\n" * 1000)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "chunk-00001.csv").mkdir()  # the second file cannot be written
    run = SplitRun(str(source), str(dest), storage=Storage(), options=SplitOptions(limit=100))
    with pytest.raises(IsADirectoryError):
        list(run)
    assert not _reading_threads()


def test_a_split_stopped_after_its_first_file_leaves_no_reading_thread(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"a,b\n" + b"1,2\n" * 100_000)
    run = iter(
        SplitRun(
            str(source),
            str(tmp_path / "out"),
            storage=Storage(),
            options=SplitOptions(limit=1_000, block_bytes=4096),
        )
    )
    first = next(run)
    run.close()
    assert Path(first.uri).stat().st_size == first.bytes
    assert not _reading_threads()
