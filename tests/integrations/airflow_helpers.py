"""The Airflow tests' setup: the Airflow process's home and environment, and what it left.

See ``test_airflow.py``. Airflow itself is never imported here (it is not in the
main virtualenv): the tests talk to it through ``airflow_env/run_dag.py``.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.integrations import venvs
from tests.integrations.helpers import (
    ACL_USER,
    PASSWORD,
    WRONG,
    Workers,
    docs_examples,
    scheduler_env,
)
from tests.pipeline_helpers import ROOT

HERE = Path(__file__).parent / "airflow_env"


@dataclass
class Airflow:
    """What the one Airflow process left: each run's states and XComs, and all it printed."""

    result: dict[str, Any]
    output: str  # the process's stdout and stderr
    logs: str  # every file under AIRFLOW_HOME/logs
    sources: dict[str, str]  # the datasets, by name

    def run(self, name: str) -> dict[str, Any]:
        return dict(self.result["runs"][name])

    def state(self, name: str, task_id: str) -> str:
        return str(self.run(name)["states"][task_id])

    def xcom(self, name: str, task_id: str, key: str = "return_value") -> Any:
        return self.run(name)["xcom"].get(task_id, {}).get(key)

    def printed(self, name: str) -> str:
        """What the process printed during one run (the runner marks where each begins)."""
        text = self.output.split(f"=== run {name}: ", 1)[1]
        return text.split("\n=== run ", 1)[0]


def provider_metadata(site: Path) -> None:
    """What ``pip install mkto-bulk`` writes for Airflow to find the provider: the
    distribution's name and version and the entry points pyproject.toml declares."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    info = site / f"mkto_bulk-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = []
    for group, entries in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {target}" for name, target in entries.items())
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def airflow_env(home: Path, workers: Workers) -> dict[str, str]:
    """The Airflow process's environment: none of the workers' settings, two connections."""
    venv = venvs.ensure("airflow")
    dags = home / "dags"
    dags.mkdir()
    (dags / "mkto_bulk_dags.py").write_text((HERE / "dags" / "mkto_bulk_dags.py").read_text())
    provider_metadata(home / "site")
    docs_examples(ROOT / "docs" / "etl" / "airflow.md", home / "docs_examples")
    connection = {
        "conn_type": "redis",
        "host": workers.host,
        "port": workers.port,
        "login": ACL_USER,
        "password": PASSWORD,
        "extra": {"db": workers.db},
    }
    env = {k: v for k, v in scheduler_env().items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW_CONN_MKTO_BULK_DEFAULT=json.dumps(connection),
        AIRFLOW_CONN_MKTO_BULK_WRONG=json.dumps({**connection, "password": WRONG}),
        PYTHONPATH=os.pathsep.join([str(ROOT), str(home / "site")]),
        PYTHON=str(venvs.python(venv)),
        MKTO_BULK_DOCS_EXAMPLES=str(home / "docs_examples"),
    )
    return env


def when(printed: str, mark: str) -> float:
    """When the first log line holding ``mark`` was written (its ISO timestamp), in seconds."""
    line = next(line for line in printed.splitlines() if mark in line)
    return datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00")).timestamp()
