"""The results file as the load report and ``mkto-bulk status`` show it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workers.results.reasons import ReasonCount, from_json

if TYPE_CHECKING:
    from workers.results.build import ResultsSummary


def results_report(summary: ResultsSummary | None, error: str | None) -> dict[str, Any]:
    """The report's results fields: the file, its outcomes, the top reasons (or the error)."""
    if summary is None:
        return {
            "results_file": None,
            "results_error": error,
            "results": None,
            "top_failure_reasons": [],
            "top_warning_reasons": [],
        }
    return {
        "results_file": summary.uri,
        "results_error": None,
        "results": summary.report(),
        "top_failure_reasons": [c.as_dict() for c in summary.failure_reasons.top()],
        "top_warning_reasons": [c.as_dict() for c in summary.warning_reasons.top()],
    }


@dataclass(frozen=True)
class ResultsView:
    """A finished load's results as the ledger keeps them (for the status)."""

    outcomes: dict[str, int] = field(default_factory=dict)
    failure_reasons: tuple[ReasonCount, ...] = ()
    warning_reasons: tuple[ReasonCount, ...] = ()


def results_view(summary: str | None) -> ResultsView:
    """The ledger's ``results_summary`` read back (an empty view when there is none)."""
    if not summary:
        return ResultsView()
    data = json.loads(summary)
    return ResultsView(
        {str(k): int(v) for k, v in data.get("outcomes", {}).items()},
        tuple(from_json(data.get("failure_reasons", []))),
        tuple(from_json(data.get("warning_reasons", []))),
    )
