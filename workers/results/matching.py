"""Marketo's failure and warning rows matched back to the records of their chunk.

A failure (or warning) file holds the chunk's columns, as they were sent, plus
the reason as its last column; it does not say which record of the chunk a row
came from. Each row is matched to a record of the chunk by its content: the
record whose cells are the row's (and so whose key is the row's key), taking
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

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


def _signature(cells: Sequence[str], width: int) -> tuple[str, ...]:
    """The cells a file shows of a record: padded to the header's width (as Marketo does)."""
    if len(cells) >= width:
        return tuple(cells)
    return (*cells, *([""] * (width - len(cells))))


@dataclass
class Matched:
    """Reasons by record index, and the rows no record was found for."""

    reasons: dict[int, str] = field(default_factory=dict)
    unmatched: int = 0


class ChunkMatcher:
    """The records of one chunk, to match failure and warning rows against."""

    def __init__(self, records: Sequence[Sequence[str]], width: int, positions: Sequence[int]):
        self.records = records
        self.width = width
        self.positions = positions
        self._by_cells: dict[tuple[str, ...], deque[int]] | None = None
        self._by_key: dict[str, deque[int]] | None = None
        self._by_loose_key: dict[str, deque[int]] | None = None

    def keys(self) -> list[str]:
        return [key_of(cells, self.positions) for cells in self.records]

    def match(self, rows: Iterable[Sequence[str]]) -> Matched:
        """Rows of a failure or warning file (without its header): cells, then the reason."""
        by_cells = self._index_cells()
        taken: set[int] = set()
        matched = Matched()
        pending: list[tuple[Sequence[str], str]] = []
        for row in rows:
            cells, reason = row[:-1], row[-1]
            found = _take(by_cells.get(_signature(cells, self.width)), taken)
            if found is None:
                pending.append((cells, reason))
                continue
            matched.reasons[found] = reason
        for cells, reason in pending:  # cells Marketo changed: by key, then a looser key
            key = key_of(cells, self.positions)
            found = _take(self._index_keys().get(key), taken)
            if found is None:
                found = _take(self._index_loose_keys().get(_loose(key)), taken)
            if found is None:
                matched.unmatched += 1
                continue
            matched.reasons[found] = reason
        self._by_cells = None  # the next file (warnings) starts from every record again
        self._by_key = self._by_loose_key = None
        return matched

    def _index_cells(self) -> dict[tuple[str, ...], deque[int]]:
        if self._by_cells is None:
            self._by_cells = defaultdict(deque)
            for index, cells in enumerate(self.records):
                self._by_cells[_signature(cells, self.width)].append(index)
        return self._by_cells

    def _index_keys(self) -> dict[str, deque[int]]:
        if self._by_key is None:
            self._by_key = defaultdict(deque)
            for index, cells in enumerate(self.records):
                self._by_key[key_of(cells, self.positions)].append(index)
        return self._by_key

    def _index_loose_keys(self) -> dict[str, deque[int]]:
        if self._by_loose_key is None:
            self._by_loose_key = defaultdict(deque)
            for index, cells in enumerate(self.records):
                self._by_loose_key[_loose(key_of(cells, self.positions))].append(index)
        return self._by_loose_key


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
