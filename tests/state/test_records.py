"""Ledger records: each hash is read once into typed values; a damaged one says what is wrong."""

from __future__ import annotations

import dataclasses
import typing

import pytest
import redis

from workers.errors import DamagedLedgerRecord
from workers.objects.leads import LIST_ID
from workers.state import keys
from workers.state.ledger import Ledger
from workers.state.records import (
    Chunk,
    ChunkFields,
    ChunkState,
    Load,
    LoadCounters,
    LoadFields,
    LoadState,
)


@pytest.fixture
def ledger(redis_url: str) -> Ledger:
    return Ledger(redis.Redis.from_url(redis_url), clock=lambda: 1_700_000_000.5)


def test_a_load_reads_as_typed_fields_with_counters_at_zero_until_counted(
    ledger: Ledger,
) -> None:
    params = {"source": "s3://b/in.csv", "object": "leads", "lookupField": "email"}
    ledger.create_load("L", params, None, {"staging": "s3://s/L"})

    fresh = ledger.load("L")
    assert fresh.state is LoadState.PENDING
    assert fresh.params == params
    assert (fresh.created_at, fresh.updated_at) == (1_700_000_000.5, 1_700_000_000.5)
    assert fresh.chunks_total is None, "not split yet"
    assert (fresh.rows_read, fresh.api_calls, fresh.error, fresh.report_uri) == (0, 0, None, None)

    ledger.update_load("L", [LoadState.PENDING], LoadState.LOADING,
                       {"chunks_total": 2, "rows_read": 10, "rejects_uri": ""})  # fmt: skip
    ledger.add_to_load("L", {"api_calls": 3})

    loading = ledger.load("L")
    assert loading.state is LoadState.LOADING
    assert (loading.chunks_total, loading.rows_read, loading.api_calls) == (2, 10, 3)
    assert loading.rejects_uri is None, "a field written empty reads as absent"
    assert loading.staged("report.json") == "s3://s/L/report.json"


def test_a_load_carries_its_request_parsed_once_from_the_stored_payload(ledger: Ledger) -> None:
    ledger.create_load("L", {"source": "s3://b/k", "object": "leads", "listId": 7})
    load = ledger.load("L")
    assert load.request.object == "leads"
    assert load.request.option(LIST_ID) == 7
    assert load.request is load.request, "parsed on first use, then kept"


def test_a_chunk_reads_as_typed_fields_and_a_cleared_batch_id_is_none(ledger: Ledger) -> None:
    ledger.create_load("L", {})
    ledger.add_chunk("L", 3, {"uri": "s3://s/c", "bytes": 100, "rows": 7, "attempts": 1})
    ledger.move_chunk("L", 3, [ChunkState.WAITING], ChunkState.SUBMITTED,
                      {"batch_id": "42", "submitted_at": 5.25, "status": "Queued"})  # fmt: skip

    chunk = ledger.chunk("L", 3)
    assert (chunk.index, chunk.chunk_id, chunk.state) == (3, "L:3", ChunkState.SUBMITTED)
    assert (chunk.uri, chunk.bytes, chunk.rows, chunk.attempts) == ("s3://s/c", 100, 7, 1)
    assert (chunk.batch_id, chunk.submitted_at, chunk.status) == ("42", 5.25, "Queued")
    assert (chunk.processed, chunk.failed, chunk.post_started_at) == (0, 0, None)

    ledger.move_chunk("L", 3, [ChunkState.SUBMITTED], ChunkState.WAITING,
                      {"batch_id": "", "status": ""})  # fmt: skip
    again = ledger.chunk("L", 3)
    assert (again.batch_id, again.status) == (None, None)
    with pytest.raises(
        DamagedLedgerRecord, match=r"^chunk 3 of load 'L' in the ledger has no batch_id$"
    ):
        again.required_batch_id()


def test_fields_another_version_wrote_are_ignored(ledger: Ledger) -> None:
    ledger.create_load("L", {})
    ledger.add_chunk("L", 0, {"rows": 1})
    ledger._redis.hset(keys.load("L"), mapping={"priority": "high", "rows_read": "4"})
    ledger._redis.hset(keys.chunk("L", 0), "checksum", "abc")

    load, chunks = ledger.snapshot("L")
    assert load.rows_read == 4
    assert [c.rows for c in chunks] == [1]


def test_a_damaged_load_record_names_every_field_that_cannot_be_read(ledger: Ledger) -> None:
    ledger._redis.hset(
        keys.load("D"),
        mapping={"state": "exploded", "params": "{not json", "rows_read": "many",
                 "created_at": "1", "updated_at": "yesterday"},
    )  # fmt: skip
    with pytest.raises(DamagedLedgerRecord) as caught:
        ledger.load("D")
    states = ", ".join(LoadState)
    assert str(caught.value) == (
        "load 'D' in the ledger cannot be read: "
        f"state: 'exploded' is not a load state ({states}); "
        "params: '{not json' is not a JSON object; updated_at: 'yesterday' is not a number; "
        "rows_read: 'many' is not an integer"
    )


def test_a_damaged_chunk_record_names_its_chunk_and_fields(ledger: Ledger) -> None:
    ledger.create_load("L", {})
    ledger.add_chunk("L", 0, {"rows": 1})
    ledger._redis.hset(keys.chunk("L", 0), mapping={"rows": "1.5", "state": ""})
    with pytest.raises(DamagedLedgerRecord) as caught:
        ledger.chunks("L")
    assert str(caught.value) == (
        "chunk 0 of load 'L' in the ledger cannot be read: "
        "state: missing; rows: '1.5' is not an integer"
    )


def test_every_field_a_step_writes_is_a_field_of_its_record() -> None:
    def names(record: type) -> set[str]:
        return {field.name for field in dataclasses.fields(record)}

    def written(fields: type) -> set[str]:
        return set(typing.get_type_hints(fields))

    assert written(LoadFields) - names(Load) == set()
    assert written(LoadCounters) - names(Load) == set()
    assert written(ChunkFields) - names(Chunk) == set()
