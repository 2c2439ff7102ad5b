"""A sync is full when asked, on its first run, or when its mapping or parameters changed."""

from __future__ import annotations

from typing import Any

import pytest

from workers import sync
from workers.load_request import LoadRequest, parse_load_request
from workers.sync.diff import DiffCounts
from workers.sync.plan import ASKED, FIRST, PARAMETERS, plan_sync, sync_report
from workers.sync.store import Current

LEADS = {"source": "s3://etl/a.csv", "object": "leads", "lookupField": "email",
         "syncKey": "nightly", "mapping": {"E-mail": "email"}}  # fmt: skip


@pytest.fixture(autouse=True)
def served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync, "SYNCS_SERVED", True)


def request(**fields: Any) -> LoadRequest:
    return parse_load_request({**LEADS, **fields})


def test_the_first_sync_of_a_key_is_full_and_says_so() -> None:
    plan = plan_sync(request(), None)
    assert (plan.full, plan.full_reason, plan.generation_read) == (True, FIRST, None)


def test_the_same_parameters_from_another_source_sync_only_changes() -> None:
    state = Current(3, plan_sync(request(), None).params_hash)
    plan = plan_sync(request(source="s3://etl/b.csv.gz", encoding="latin-1"), state)
    assert (plan.full, plan.generation_read) == (False, 3)
    assert plan.keeps_old


@pytest.mark.parametrize(
    "changed",
    [{"mapping": {"E-mail": "email", "Town": "city"}}, {"lookupField": "id"},
     {"partitionName": "EMEA"}, {"api": "ingestion"}],
)  # fmt: skip
def test_a_mapping_or_parameter_change_forces_a_full_sync(changed: dict[str, Any]) -> None:
    state = Current(3, plan_sync(request(), None).params_hash)
    plan = plan_sync(request(**changed), state)
    assert (plan.full, plan.full_reason) == (True, PARAMETERS)
    assert not plan.keeps_old  # old fingerprints are no longer comparable


def test_full_true_forces_one_and_the_report_section_names_it() -> None:
    state = Current(3, plan_sync(request(), None).params_hash)
    plan = plan_sync(request(full=True), state)
    assert plan.full_reason == ASKED and plan.keeps_old
    section = sync_report(plan, DiffCounts(new=1, changed=2, unchanged=3), 4)
    assert section == {
        "sync_key": "nightly", "generation_read": 3, "generation_written": 4, "full": True,
        "full_reason": ASKED, "new": 1, "changed": 2, "unchanged": 3, "vanished": 0,
        "duplicate_keys": 0,
    }  # fmt: skip
