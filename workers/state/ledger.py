"""The load ledger: loads and chunks in Redis, the one source of truth of a load's progress.

Reads hand back typed records (``records``: :class:`Load`, :class:`Chunk`), each
parsed once from its hash; writes take the typed field mappings defined there.

Every state change is a compare-and-set in one Lua script: it happens only
from the states the caller names, so a redelivered task (acks_late) that
repeats a step finds the state already moved and does nothing. Counters that
roll up into the load (rows processed, failed, ...) are added in the same
script as the chunk transition that earns them, so they are counted once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis

from workers.errors import IdempotencyConflict, LedgerError
from workers.state import keys as redis_keys
from workers.state import records, scripts
from workers.state.records import (
    TERMINAL_CHUNK_STATES,
    TERMINAL_LOAD_STATES,
    Chunk,
    ChunkFields,
    ChunkState,
    Load,
    LoadCounters,
    LoadFields,
    LoadState,
    parse_chunk,
    parse_load,
)
from workers.state.redis_text import text, text_hash

# Loads not yet terminal: the set the reconciler sweeps.
ACTIVE_LOADS = redis_keys.ACTIVE_LOADS

__all__ = [
    "ACTIVE_LOADS",
    "TERMINAL_CHUNK_STATES",
    "TERMINAL_LOAD_STATES",
    "Chunk",
    "ChunkFields",
    "ChunkState",
    "Ledger",
    "LedgerError",
    "Load",
    "LoadCounters",
    "LoadFields",
    "LoadState",
    "Transition",
]


@dataclass(frozen=True)
class Transition:
    """The outcome of a compare-and-set: applied, or the state found instead."""

    applied: bool
    found: str | None


class Ledger:
    """Reads and atomically updates loads and chunks."""

    def __init__(self, client: redis.Redis, clock: Callable[[], float] = time.time) -> None:
        self._redis = client
        self._clock = clock
        self._transition = scripts.register(client, "workers.state", "ledger_transition")
        self._create = scripts.register(client, "workers.state", "ledger_create")
        self._add_chunk = scripts.register(client, "workers.state", "ledger_add_chunk")

    # keys -----------------------------------------------------------------
    @staticmethod
    def load_key(load_id: str) -> str:
        return redis_keys.load(load_id)

    @staticmethod
    def chunk_key(load_id: str, index: int) -> str:
        return redis_keys.chunk(load_id, index)

    @staticmethod
    def chunk_id(load_id: str, index: int) -> str:
        return records.chunk_id(load_id, index)

    @staticmethod
    def parse_chunk_id(chunk_id: str) -> tuple[str, int]:
        load_id, _, index = chunk_id.rpartition(":")
        return load_id, int(index)

    # loads ----------------------------------------------------------------
    def create_load(
        self,
        load_id: str,
        params: Mapping[str, Any],
        idempotency_key: str | None = None,
        fields: LoadFields | None = None,
    ) -> tuple[str, bool]:
        """Record a load as pending and active, or return the one already under ``idempotency_key``.

        Claiming the key, writing the record, indexing it and marking it active
        happen in one script: a worker killed at any point leaves either all
        of it or none. A key already used with other ``params`` (their sorted
        JSON differs) raises :class:`IdempotencyConflict`.
        """
        now = self._clock()
        canonical = json.dumps(dict(params), sort_keys=True)
        record = {
            **(fields or {}),
            "state": LoadState.PENDING.value,
            "params": canonical,
            "created_at": repr(now),
            "updated_at": repr(now),
            "chunks_total": "-1",
        }
        keys = [
            self.load_key(load_id),
            redis_keys.LOADS,
            ACTIVE_LOADS,
            redis_keys.idempotency(idempotency_key or ""),
            redis_keys.idempotency_payload(idempotency_key or ""),
        ]
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        used = "1" if idempotency_key else "0"
        created, holder = self._create(
            keys=keys, args=[load_id, repr(now), json.dumps(record), used, digest]
        )
        if created == 2:
            raise IdempotencyConflict(
                f'idempotencyKey "{idempotency_key}" was already used by load {text(holder)} '
                "with a different payload"
            )
        return text(holder), bool(created)

    def load(self, load_id: str) -> Load:
        """The load's record; LedgerError if there is none, DamagedLedgerRecord if unreadable."""
        raw = self._redis.hgetall(self.load_key(load_id))
        if not raw:
            raise LedgerError(f"no load {load_id!r}")
        return parse_load(load_id, text_hash(raw))

    def recent_loads(self, limit: int = 20) -> list[str]:
        return [text(item) for item in self._redis.zrevrange(redis_keys.LOADS, 0, limit - 1)]

    def update_load(
        self,
        load_id: str,
        allowed: Iterable[str],
        state: str,
        fields: LoadFields | None = None,
    ) -> Transition:
        key = self.load_key(load_id)
        return self._apply(f"load {load_id!r}", key, key, allowed, state, fields or {}, {})

    def add_to_load(self, load_id: str, increments: LoadCounters) -> None:
        pipe = self._redis.pipeline(transaction=True)
        for field, amount in cast(Mapping[str, int], increments).items():
            pipe.hincrby(self.load_key(load_id), field, amount)
        pipe.execute()

    # chunks ---------------------------------------------------------------
    def add_chunk(self, load_id: str, index: int, fields: ChunkFields) -> bool:
        """Record a split file as a waiting chunk; False if it was recorded before."""
        # One script: a crash can never leave a chunk with a state but without its fields.
        now = repr(self._clock())
        mapping = {k: str(v) for k, v in fields.items()}
        mapping.update(index=str(index), created_at=now, updated_at=now, submissions="0")
        keys = [self.chunk_key(load_id, index), redis_keys.load_chunks(load_id)]
        args: list[str | int] = [ChunkState.WAITING.value, json.dumps(mapping), index]
        return bool(self._add_chunk(keys=keys, args=args))

    def chunk(self, load_id: str, index: int) -> Chunk:
        """The chunk's record; LedgerError if there is none, DamagedLedgerRecord if unreadable."""
        raw = self._redis.hgetall(self.chunk_key(load_id, index))
        if not raw:
            raise LedgerError(f"no chunk {index} in load {load_id!r}")
        return parse_chunk(load_id, text_hash(raw))

    def chunk_indexes(self, load_id: str) -> list[int]:
        return sorted(int(i) for i in self._redis.smembers(redis_keys.load_chunks(load_id)))

    def chunks(self, load_id: str) -> list[Chunk]:
        """The load's chunks in index order."""
        indexes = self.chunk_indexes(load_id)
        pipe = self._redis.pipeline(transaction=False)
        for index in indexes:
            pipe.hgetall(self.chunk_key(load_id, index))
        return [parse_chunk(load_id, text_hash(raw)) for raw in pipe.execute()]

    def snapshot(self, load_id: str) -> tuple[Load, list[Chunk]]:
        """The load and its chunks as of one instant (MULTI/EXEC).

        Reading them one after the other can see a chunk already ``done`` while
        the load's roll-ups still lack its counts (the collect that moved it ran
        in between), which would make figures that add up look as if they do not.
        """
        indexes = self.chunk_indexes(load_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hgetall(self.load_key(load_id))
        for index in indexes:
            pipe.hgetall(self.chunk_key(load_id, index))
        raw_load, *raw_chunks = pipe.execute()
        if not raw_load:
            raise LedgerError(f"no load {load_id!r}")
        load = parse_load(load_id, text_hash(raw_load))
        return load, [parse_chunk(load_id, text_hash(raw)) for raw in raw_chunks]

    def move_chunk(
        self,
        load_id: str,
        index: int,
        allowed: Iterable[str],
        state: str,
        fields: ChunkFields | None = None,
        load_increments: LoadCounters | None = None,
    ) -> Transition:
        """Compare-and-set a chunk's state, rolling ``load_increments`` into its load."""
        return self._apply(
            f"chunk {index} in load {load_id!r}",
            self.chunk_key(load_id, index),
            self.load_key(load_id),
            allowed,
            state,
            fields or {},
            load_increments or {},
        )

    def count_submission(self, load_id: str, index: int, amount: int = 1) -> int:
        """Count a POST of this chunk; more than one means a (safe, upsert) double submission.

        A POST counted but surely never sent (our daily share was used) is taken back (-1).
        """
        return int(self._redis.hincrby(self.chunk_key(load_id, index), "submissions", amount))

    def count_chunk_error(self, load_id: str, index: int, message: str) -> int:
        """Count an unexpected error of a step of this chunk and keep its message; the count."""
        return self._count_error(self.chunk_key(load_id, index), message)

    def count_load_error(self, load_id: str, message: str) -> int:
        """Count an unexpected error of a load-wide step (the split); the count so far."""
        return self._count_error(self.load_key(load_id), message)

    def _count_error(self, key: str, message: str) -> int:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hincrby(key, "unexpected_errors", 1)
        pipe.hset(key, "last_error", message)
        count, _ = pipe.execute()
        return int(count)

    def set_load_fields(self, load_id: str, fields: LoadFields) -> None:
        """Set informational fields of a load (no state change), e.g. why it waits."""
        self._redis.hset(self.load_key(load_id), mapping={k: str(v) for k, v in fields.items()})

    def clear_load_fields(self, load_id: str, *names: str) -> None:
        self._redis.hdel(self.load_key(load_id), *names)

    def mark_waiting(self, load_id: str, reason: str) -> bool:
        """Say why the load waits; True, and one more ``quota_waits``, if it did not wait yet."""
        key = self.load_key(load_id)
        if not self._redis.hsetnx(key, "waiting_reason", reason):
            return False
        self._redis.hincrby(key, "quota_waits", 1)
        return True

    def _apply(
        self,
        what: str,
        key: str,
        load_key: str,
        allowed: Iterable[str],
        state: str,
        fields: Mapping[str, object],
        increments: Mapping[str, object],
    ) -> Transition:
        found = self._transition(
            keys=[key, load_key],
            args=[
                json.dumps([str(s) for s in allowed]),
                str(state),
                json.dumps({k: str(v) for k, v in fields.items()}),
                json.dumps(dict(increments)),
                repr(self._clock()),
            ],
        )
        if found is None:
            raise LedgerError(f"no {what}")
        answer = text(found)
        return Transition(applied=answer == "OK", found=None if answer == "OK" else answer)
