"""Marketo's failure and warning rows matched back to the records of their chunk.

A failure (or warning) file holds the chunk's columns, as they were sent, plus
the reason as its last column; it does not say which record of the chunk a row
came from. Each row is matched to a record of the chunk by its content: the
record whose cells are the row's (and so whose key is the row's key; a record's
cells are kept as a hash, with its key), taking
such records in the chunk's order: the i-th row with given cells is the i-th
record with those cells. A row whose cells Marketo changed (none found) falls
back to its key alone, then to its key in another case or with spaces around
it, again in order among the records not matched yet.

So the match is exact when the file keeps the chunk's order (Marketo's files and
the Data Ingestion importer's do): records that share a key but differ in any
cell are told apart by their cells; records that are the same in every cell
are indistinguishable and take their lines in order.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict, deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Self, TypeVar

csv.field_size_limit(2**31 - 1)  # a cell may be as large as a chunk


def key_positions(header: Sequence[str], key_fields: Sequence[str]) -> list[int]:
    """Where each key field is in ``header`` (by name, else in any case); -1 when absent."""
    lowered = [name.lower() for name in header]
    positions = []
    for name in key_fields:
        if name in header:
            positions.append(list(header).index(name))
        elif name.lower() in lowered:
            positions.append(lowered.index(name.lower()))
        else:
            positions.append(-1)
    return positions


def key_of(cells: Sequence[str], positions: Sequence[int]) -> str:
    """The key of a record: its key fields' values (several joined by ``|``)."""
    return "|".join(cells[p] if 0 <= p < len(cells) else "" for p in positions)


def parse(data: bytes | str, delimiter: str) -> list[list[str]]:
    """Every record of a CSV/TSV/SSV file, header first (blank lines are not records)."""
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if row]


def signature(cells: Sequence[str], width: int) -> int:
    """A record's cells as a file shows them (padded to the header's width, as Marketo
    pads them), hashed: equal cells, equal signatures."""
    if len(cells) < width:
        cells = (*cells, *([""] * (width - len(cells))))
    return hash(tuple(cells))


@dataclass
class Matched:
    """Reasons by record index, and the rows no record was found for."""

    reasons: dict[int, str] = field(default_factory=dict)
    unmatched: int = 0


class ChunkMatcher:
    """The records of one chunk, by key and signature, to match result-file rows against.

    Only the keys and signatures are kept (not the cells): memory stays small next to
    the chunk's own bytes.
    """

    def __init__(self, keys: Sequence[str], signatures: Sequence[int], width: int) -> None:
        self.keys = keys
        self.signatures = signatures
        self.width = width

    @classmethod
    def of(cls, records: Iterable[Sequence[str]], width: int, positions: Sequence[int]) -> Self:
        """The matcher of these records (a chunk's, after its header)."""
        keys: list[str] = []
        signatures: list[int] = []
        for cells in records:
            keys.append(key_of(cells, positions))
            signatures.append(signature(cells, width))
        return cls(keys, signatures, width)

    def match(self, rows: Sequence[Sequence[str]], positions: Sequence[int]) -> Matched:
        """Rows of a failure or warning file (without its header): cells, then the reason.

        ``positions``: where the key fields are in the file's columns.
        """
        matched = Matched()
        wanted = [(signature(row[:-1], self.width), key_of(row[:-1], positions), row[-1])
                  for row in rows]  # fmt: skip
        if not wanted:
            return matched
        by_signature = _index(self.signatures, {sig for sig, _, _ in wanted}, self.keys)
        taken: set[int] = set()
        pending: list[tuple[str, str]] = []
        for sig, key, reason in wanted:
            found = _take(by_signature.get((sig, key)), taken)
            if found is None:
                pending.append((key, reason))
            else:
                matched.reasons[found] = reason
        if pending:  # cells Marketo changed: by key, then by a looser key, in order
            by_key = _index(self.keys, {key for key, _ in pending})
            loose = [_loose(key) for key in self.keys]
            by_loose_key = _index(loose, {_loose(key) for key, _ in pending})
            for key, reason in pending:
                found = _take(by_key.get((key, "")), taken)
                if found is None:
                    found = _take(by_loose_key.get((_loose(key), "")), taken)
                if found is None:
                    matched.unmatched += 1
                else:
                    matched.reasons[found] = reason
        return matched


T = TypeVar("T", bound=Hashable)


def _index(
    values: Sequence[T], wanted: set[T], keys: Sequence[str] | None = None
) -> dict[tuple[T, str], deque[int]]:
    """The record indexes of each wanted value (with its record's key, when given), in
    order; only the records holding a wanted value are looked at twice."""
    index: dict[tuple[T, str], deque[int]] = defaultdict(deque)
    for position in [i for i, value in enumerate(values) if value in wanted]:
        index[(values[position], keys[position] if keys is not None else "")].append(position)
    return index


def _loose(key: str) -> str:
    return "|".join(part.strip().casefold() for part in key.split("|"))


def _take(candidates: deque[int] | None, taken: set[int]) -> int | None:
    """The first record of ``candidates`` not matched yet (and marks it matched)."""
    while candidates:
        index = candidates.popleft()
        if index not in taken:
            taken.add(index)
            return index
    return None
