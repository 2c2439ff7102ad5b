"""The documentation site builds strictly, and its configuration reference is the code's."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from workers.settings import Settings
from workers.settings_doc import default_text, render_settings_table

ROOT = Path(__file__).resolve().parents[1]


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    done = build(ROOT / "mkdocs.yml", site)
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    return site


def test_every_setting_is_in_the_configuration_page_with_its_default(built_site: Path) -> None:
    page = (built_site / "operators" / "configuration.html").read_text()
    rows = {
        re.sub(r"<[^>]+>", "", match.group(1)).strip(): html.unescape(match.group(0))
        for match in re.finditer(r"<tr>\s*<td>(.*?)</td>.*?</tr>", page, flags=re.S)
    }
    missing = [name.upper() for name in Settings.model_fields if name.upper() not in rows]
    assert missing == [], f"settings missing from the configuration page: {missing}"
    assert len(rows) == len(Settings.model_fields)
    for name, field in Settings.model_fields.items():
        shown = default_text(field).strip("`")
        assert shown in rows[name.upper()], f"{name.upper()}: default {shown} not shown"
    assert "<td>≥ 1, ≤ 100</td>" in page  # MARKETO_RATE_LIMIT_CALLS' bounds
    assert "defaults to &lt;rest url&gt;/identity" in page  # not swallowed as an HTML tag


def test_every_page_of_the_nav_is_built(built_site: Path) -> None:
    pages = sorted(p.relative_to(ROOT / "docs") for p in (ROOT / "docs").rglob("*.md"))
    assert len(pages) >= 25
    for page in pages:
        assert (built_site / page.with_suffix(".html")).is_file(), page


def _copy_of_the_docs(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    return tmp_path / "docs"


def test_broken_links_unknown_anchors_and_pages_left_out_of_the_nav_fail_the_build(
    tmp_path: Path,
) -> None:
    docs = _copy_of_the_docs(tmp_path)
    payload = docs / "etl" / "payload.md"
    payload.write_text(
        payload.read_text()
        + "\nSee [the schedule](no-such-page.md) and [the report](outputs.md#no-such-heading).\n"
    )
    (docs / "orphan.md").write_text("# A page nobody listed\n")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    for expected in (
        "Doc file 'etl/payload.md' contains a link 'no-such-page.md', but the target "
        "'etl/no-such-page.md' is not found among documentation files.",
        "Doc file 'etl/payload.md' contains a link 'outputs.md#no-such-heading', but the doc "
        "'etl/outputs.md' does not contain an anchor '#no-such-heading'.",
        'The following pages exist in the docs directory, but are not included in the "nav" '
        "configuration:\n  - orphan.md",
        "Aborted with 3 warnings in strict mode!",
    ):
        assert expected in done.stdout + done.stderr, done.stderr


def test_a_configuration_page_without_its_marker_fails_the_build(tmp_path: Path) -> None:
    page = _copy_of_the_docs(tmp_path) / "operators" / "configuration.md"
    page.write_text(page.read_text().replace("<!-- settings-reference -->", ""))
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert (
        "operators/configuration.md: the marker <!-- settings-reference --> is missing, "
        "the reference has nowhere to go" in done.stderr
    ), done.stderr


def test_readme_links_point_at_files_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert len(local) >= 20
    broken = [t for t in local if not (ROOT / t).exists()]
    assert broken == [], f"README links to missing files: {broken}"


class _Example(BaseSettings):
    model_config = {"env_prefix": "EX_"}

    count: int = Field(default=3, ge=1, le=10_000, description="How many | at most")
    ratio: float = Field(default=20.0, gt=0, lt=1.5)
    secret: SecretStr | None = None
    url: str = Field(default="x", description="Defaults to <rest url>/identity & more")


def test_the_table_renders_names_types_defaults_bounds_and_descriptions() -> None:
    assert render_settings_table(_Example).splitlines() == [
        "| variable | type | default | allowed | description |",
        "| --- | --- | --- | --- | --- |",
        "| `EX_COUNT` | integer | `3` | ≥ 1, ≤ 10,000 | How many \\| at most |",
        "| `EX_RATIO` | number | `20` | > 0, < 1.5 |  |",
        "| `EX_SECRET` | secret | unset |  |  |",
        "| `EX_URL` | string | `x` |  | Defaults to &lt;rest url&gt;/identity &amp; more |",
    ]
