"""An object type lives in one place: its spec module, plus its entry in the registry.

A made-up new type (``orders_spec.py``) is added to a copy of ``workers/``
exactly as a new type would be: its module, and its name in ``SPEC_MODULES`` in
``workers/objects/__init__.py``. Payload validation, ``mkto-bulk load`` and the
import target then know it with no other edit; and no module but its own
spells any type's names.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.objects.spec_names import elsewhere
from workers.objects import SPECS, ObjectSpec

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REGISTRY_MODULE = ROOT / "workers" / "objects" / "__init__.py"
# The registry: one line per type's module, between "SPEC_MODULES = (" and ")".
REGISTRY_LINES = re.compile(r'^SPEC_MODULES = \(\n(?P<specs>(?:    "\w+",\n)+)\)$', re.MULTILINE)


@pytest.fixture(params=SPECS, ids=[spec.name for spec in SPECS])
def spec(request: pytest.FixtureRequest) -> ObjectSpec[Any]:
    return request.param


def test_no_module_but_its_own_names_an_object_type(spec: ObjectSpec[Any]) -> None:
    assert elsewhere(ROOT, spec) == []


def test_program_members_are_spelled_only_in_their_module_and_its_registry_entry() -> None:
    found = subprocess.run(
        ["grep", "-rn", r"programmembers\|program_member\|programMember", "workers/"],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    ).stdout.splitlines()  # fmt: skip
    outside = [line for line in found if not line.startswith("workers/objects/program_members.py:")]
    assert [line.split(":", 2)[2] for line in outside] == ['    "program_members",']
    assert all(line.startswith("workers/objects/__init__.py:") for line in outside)


def test_fields_and_names_are_unique_across_types() -> None:
    """A name belongs to one field; a field two types share is the same field in both
    (alias, attribute, type, limit and choices; each type says whether it requires it),
    set by one command-line flag."""
    fields = [field for spec in SPECS for field in spec.fields]
    for what in ("alias", "attr"):
        by_name: dict[str, set[tuple[object, ...]]] = {}
        for field in fields:
            same = (field.alias, field.attr, field.type, field.max_length, field.choices)
            by_name.setdefault(getattr(field, what), set()).add(same)
        assert all(len(kinds) == 1 for kinds in by_name.values()), what
    for spec in SPECS:
        assert len({field.attr for field in spec.fields}) == len(spec.fields), spec.name
    flags: dict[str, set[str]] = {}
    for spec in SPECS:
        for option in spec.cli_options:
            flags.setdefault(option.flag, set()).add(option.field.alias)
        assert len({option.flag for option in spec.cli_options}) == len(spec.cli_options)
    assert all(len(aliases) == 1 for aliases in flags.values())
    assert len({alias for aliases in flags.values() for alias in aliases}) == len(flags)
    assert len({spec.member for spec in SPECS}) == len(SPECS)


@pytest.fixture(scope="module")
def fourth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the copy with ``orders`` registered reports (see ``fourth_type_probe.py``)."""
    copy = tmp_path_factory.mktemp("fourth")
    shutil.copytree(ROOT / "workers", copy / "workers",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copy(HERE / "orders_spec.py", copy / "workers" / "objects" / "orders.py")
    registry = REGISTRY_MODULE.read_text("utf-8")
    lines = REGISTRY_LINES.search(registry)
    assert lines is not None, "the registry's SPEC_MODULES lines"
    entry = registry.replace(lines["specs"], lines["specs"] + '    "orders",\n')  # the one line
    (copy / "workers" / "objects" / "__init__.py").write_text(entry, "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "tests.objects.fourth_type_probe"],
        cwd=copy, env={"PYTHONPATH": f"{copy}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["workers"] == str(copy)  # the copy ran, not this checkout
    return report


def test_a_fourth_type_s_payload_is_validated_from_its_spec(fourth: dict[str, Any]) -> None:
    assert fourth["object_types"] == [*(spec.name for spec in SPECS), "orders"]
    assert fourth["to_json"] == {"source": "s3://etl-in/orders.csv", "object": "orders",
                                 "format": "csv", "catalogId": 77, "orderCurrency": "EUR",
                                 "mapping": {}}  # fmt: skip
    assert fourth["limit"] == 3
    prefix = "invalid load request: "
    assert fourth["refusals"] == {
        "missing": prefix + "catalogId: required when object is orders",
        "too long": prefix + "orderCurrency: is 4 characters long (at most 3)",
        "a string id": prefix + "catalogId: Input should be a valid integer",
        "on leads": prefix + "catalogId: only applies when object is orders",
        "leads' on orders": prefix + "lookupField: only applies when object is leads",
        "a shared field on orders": prefix
        + "listId: only applies when object is leads or listmembers",
    }


def test_a_fourth_type_s_import_target_comes_from_its_module(fourth: dict[str, Any]) -> None:
    assert fourth["target"] == {
        "class": "OrderImport",
        "kind": "orders",
        "create": "/bulk/v1/catalogs/77/orders/import.json",
        "status": "/bulk/v1/catalogs/orders/import/9/status.json",
        "failures": "/bulk/v1/catalogs/orders/import/9/failures.json",
        "params": {"format": "csv", "orderCurrency": "EUR"},
    }


def test_a_fourth_type_is_a_cli_choice_with_its_options(fourth: dict[str, Any]) -> None:
    assert f"[{'|'.join(spec.name for spec in SPECS)}|orders]" in fourth["help"]
    assert "--catalog-id INTEGER Orders: the catalog." in fourth["help"]
    assert "--order-currency TEXT Orders: the currency code." in fourth["help"]
    assert fourth["cli"]["exit"] == 0, fourth["cli"]["output"]
    assert fourth["cli"]["sent"] == [{"source": "s3://etl-in/orders.csv", "object": "orders",
                                      "catalogId": 77, "orderCurrency": "EUR"}]  # fmt: skip
    assert fourth["cli bad id"]["exit"] == 2
    assert "'x' is not a valid integer" in fourth["cli bad id"]["output"]
    assert fourth["cli on leads"]["exit"] == 2
    assert "catalogId: only applies when object is orders" in fourth["cli on leads"]["output"]


def test_a_fourth_type_is_named_only_in_its_module_and_registry(fourth: dict[str, Any]) -> None:
    assert {"orders", "ORDERS", "Orders", "OrderImport", "catalogId", "catalog_id"} <= set(
        fourth["orders names"]
    )
    assert fourth["elsewhere"] == {name: [] for name in [*(s.name for s in SPECS), "orders"]}
