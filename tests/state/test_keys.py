"""Redis keys are named in one module, and Lua lives in .lua files the wheel carries."""

from __future__ import annotations

import ast
import fnmatch
import tomllib
from pathlib import Path

from workers.state import keys

ROOT = Path(__file__).resolve().parents[2]
WORKERS = ROOT / "workers"
KEYS_MODULE = WORKERS / "state" / "keys.py"


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module (f-string parts too), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_module_but_keys_spells_a_redis_key_prefix() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in sorted(WORKERS.rglob("*.py"))
        if path != KEYS_MODULE
        for line, text in _strings(path)
        if "mkto:" in text
    ]
    assert found == [], "Redis keys belong in workers/state/keys.py:\n" + "\n".join(found)


def test_no_python_module_under_workers_holds_lua() -> None:
    found = [
        str(path.relative_to(ROOT))
        for path in sorted(WORKERS.rglob("*.py"))
        if "redis.call(" in path.read_text(encoding="utf-8")
    ]
    assert found == [], f"Lua belongs in a lua/*.lua file: {found}"


def test_the_key_strings_are_the_ones_existing_data_is_stored_under() -> None:
    assert keys.LOADS == "mkto:loads"
    assert keys.ACTIVE_LOADS == "mkto:loads:active"
    assert keys.load("L") == "mkto:load:L"
    assert keys.load_chunks("L") == "mkto:load:L:chunks"
    assert keys.chunk("L", 3) == "mkto:load:L:chunk:3"
    assert keys.idempotency("K") == "mkto:idempotency:K"
    assert keys.idempotency_payload("K") == "mkto:idempotency-payload:K"
    assert keys.split_lease("L") == "mkto:load:L:split_lease"
    assert keys.submit_lock("L:3") == "mkto:chunk:L:3:submitting"
    assert keys.admission_waiting("i") == "mkto:admission:{i}:waiting"
    assert keys.admission_line("i", "L") == "mkto:admission:{i}:line:L"
    assert keys.admission_ring("i", "high") == "mkto:admission:{i}:ring:high"
    assert keys.admission_permits("i") == "mkto:admission:{i}:permits"
    assert keys.admission_hold("i") == "mkto:admission:{i}:hold_until"
    assert keys.admission_sequence("i") == "mkto:admission:{i}:sequence"
    assert keys.REPLICATION_MARK == "mkto:replication:mark"
    assert keys.marketo_usage("i", "2026-12-01") == "mkto:i:usage:2026-12-01"
    assert keys.jobs("i") == "mkto:i:jobs"
    assert keys.import_rate("i") == "mkto:i:import_rate"
    assert keys.call_rate("i") == "mkto:i:rate"
    assert keys.call_inflight("i") == "mkto:i:inflight"
    assert keys.call_holdoff("i") == "mkto:i:holdoff"
    assert keys.daily_quota_override("i") == "mkto:i:daily_quota_override"
    assert keys.daily_calls("i", "2026-12-01") == "mkto:i:daily:2026-12-01"
    assert keys.client_metrics("i") == "mkto:i:metrics"
    assert keys.lookup_cache("i", "*") == "mkto:i:lookup:*"
    assert keys.describe_cache("i", "/p") == "mkto:i:describe:/p"
    assert keys.token("c") == "mkto:token:c"
    assert keys.token_lock("c") == "mkto:token:c:lock"
    assert keys.token_denied("c") == "mkto:token:c:denied"
    assert keys.SCHEDULES == "mkto:schedules"
    assert keys.schedule_run("n") == "mkto:schedule:n"
    assert keys.REDBEAT_PREFIX == "mkto:redbeat:"
    assert keys.sync_lock("i", "leads", "k") == "mkto:sync:i:leads:k:lock"


def _lua_files() -> list[Path]:
    return sorted(WORKERS.rglob("*.lua"))


def test_every_lua_file_names_its_keys_and_arguments_in_a_header() -> None:
    assert len(_lua_files()) >= 15
    for path in _lua_files():
        header = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.startswith("--"):
                break
            header.append(line)
        text = "\n".join(header)
        assert "KEYS" in text and "ARGV" in text, f"{path.relative_to(ROOT)}: no KEYS/ARGV header"


def test_every_lua_file_is_package_data_so_the_wheel_carries_it() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data: dict[str, list[str]] = config["tool"]["setuptools"]["package-data"]
    for path in _lua_files():
        relative = path.relative_to(ROOT)
        covered = any(
            relative.parts[: len(package.split("."))] == tuple(package.split("."))
            and any(
                fnmatch.fnmatch("/".join(relative.parts[len(package.split(".")) :]), pattern)
                for pattern in patterns
            )
            for package, patterns in package_data.items()
        )
        assert covered, f"{relative} is not in [tool.setuptools.package-data]"
