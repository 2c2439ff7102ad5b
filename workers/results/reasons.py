"""Counting why rows failed or were warned, and the top reasons as a report shows them.

Shared by everything that summarizes a load's rows (the results file, the
report, ``mkto-bulk status``, an HTML report): count reasons with
:class:`ReasonTally` (from any rows, or straight from Marketo's failure and
warning files with :func:`tally_result_file`), then take :meth:`ReasonTally.top`
and print each :class:`ReasonCount` with :meth:`ReasonCount.text`, e.g.
``Invalid data type in field Lead Score: 1,204 rows``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TOP_REASONS = 10  # reasons a report and the status show
NO_REASON = "(no reason given)"


@dataclass(frozen=True)
class ReasonCount:
    """One reason and how many rows it was given for."""

    reason: str
    rows: int

    def text(self) -> str:
        return f"{self.reason}: {self.rows:,} row{'' if self.rows == 1 else 's'}"

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "rows": self.rows}


class ReasonTally:
    """Rows counted by reason (an empty reason counts as ``NO_REASON``)."""

    def __init__(self, counts: Mapping[str, int] | None = None) -> None:
        self.counts: Counter[str] = Counter(counts or {})

    def add(self, reason: str, rows: int = 1) -> None:
        self.counts[reason.strip() or NO_REASON] += rows

    def update(self, reasons: Iterable[str]) -> None:
        for reason in reasons:
            self.add(reason)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    def top(self, limit: int = TOP_REASONS) -> list[ReasonCount]:
        """The ``limit`` most frequent reasons, most rows first (ties by reason)."""
        ranked = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        return [ReasonCount(reason, rows) for reason, rows in ranked[:limit]]


def tally_result_file(data: bytes, delimiter: str = ",") -> ReasonTally:
    """The reasons of one failure or warning file (Marketo's shape: the import file's
    columns, then the reason as the last column)."""
    tally = ReasonTally()
    reader = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""),
                        delimiter=delimiter)  # fmt: skip
    next(reader, None)  # the header
    tally.update(row[-1] for row in reader if row)
    return tally


def lines(counts: Sequence[ReasonCount]) -> list[str]:
    """Each reason as a line of text (``<reason>: <rows> rows``)."""
    return [count.text() for count in counts]


def from_json(items: Iterable[Mapping[str, Any]]) -> list[ReasonCount]:
    """Reason counts as a report stores them (``{"reason": ..., "rows": ...}``)."""
    return [ReasonCount(str(item["reason"]), int(item["rows"])) for item in items]
