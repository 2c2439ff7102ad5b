"""The Airflow tests' setup: the Airflow process's home and environment, and what it left.

See ``test_airflow.py``. Airflow itself is never imported here (it is not in the
main virtualenv): the tests talk to it through ``airflow_env/run_dag.py``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.integrations import airflow_venv
from tests.pipeline_helpers import ROOT
from tests.services import SANDBOX_CLIENT_SECRET

HERE = Path(__file__).parent / "airflow_env"
ACL_USER = "airflow-dags"
PASSWORD = "Af-s3cret/p@ss:w0rd%7"  # characters a URL must quote
WRONG = "Wr0ng-p@ss/word"  # the password of a second connection, which Redis refuses
SECRETS = (PASSWORD, quote(PASSWORD, safe=""), WRONG, quote(WRONG, safe=""), SANDBOX_CLIENT_SECRET)


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


def docs_examples(folder: Path) -> None:
    """The Python examples of docs/etl/airflow.md, one file each (the runner runs them)."""
    folder.mkdir()
    text = (ROOT / "docs" / "etl" / "airflow.md").read_text()
    for number, block in enumerate(re.findall(r"```python\n(.*?)```", text, re.DOTALL)):
        (folder / f"example_{number}.py").write_text(block)


def airflow_env(home: Path, broker: str) -> dict[str, str]:
    """The Airflow process's environment: none of the workers' settings, one connection."""
    venv = airflow_venv.ensure()
    dags = home / "dags"
    dags.mkdir()
    (dags / "mkto_bulk_dags.py").write_text((HERE / "dags" / "mkto_bulk_dags.py").read_text())
    provider_metadata(home / "site")
    docs_examples(home / "docs_examples")
    drop = ("MARKETO_", "AWS_", "S3_", "REDIS_", "STAGING_", "AIRFLOW")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    host_port, db = broker.removeprefix("redis://").rsplit("/", 1)
    connection = {
        "conn_type": "redis",
        "host": host_port.rsplit(":", 1)[0],
        "port": int(host_port.rsplit(":", 1)[1]),
        "login": ACL_USER,
        "password": PASSWORD,
        "extra": {"db": int(db or 0)},
    }
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW_CONN_MKTO_BULK_DEFAULT=json.dumps(connection),
        AIRFLOW_CONN_MKTO_BULK_WRONG=json.dumps({**connection, "password": WRONG}),
        PYTHONPATH=os.pathsep.join([str(ROOT), str(home / "site")]),
        PYTHON=str(airflow_venv.python(venv)),
        MKTO_BULK_DOCS_EXAMPLES=str(home / "docs_examples"),
    )
    return env


def when(printed: str, mark: str) -> float:
    """When the first log line holding ``mark`` was written (its ISO timestamp), in seconds."""
    line = next(line for line in printed.splitlines() if mark in line)
    return datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00")).timestamp()
