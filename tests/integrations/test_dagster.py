"""The Dagster resource in a real Dagster, against real workers.

Dagster runs in its own virtualenv (``venvs.py``, built by ``make test`` before
pytest). The module starts real workers on the test Redis, S3 endpoint and
sandbox, then materializes an asset that loads through ``MktoBulkResource`` in
one Dagster process whose environment has no Marketo, AWS or S3 settings, with
the broker's password as an ``EnvVar`` that must show nowhere Dagster keeps
things (its event log, the run's config, its output).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integrations import venvs
from tests.integrations.helpers import (
    ACL_USER,
    PASSWORD,
    SECRETS,
    docs_examples,
    once_per_session,
    scheduler_env,
    scheduler_workers,
)
from tests.pipeline_helpers import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), pytest.mark.xdist_group("dagster")]

HERE = Path(__file__).parent / "dagster_env"


@dataclass
class Dagster:
    result: dict[str, Any]
    output: str

    def run(self, name: str) -> dict[str, Any]:
        return dict(self.result["runs"][name])


@pytest.fixture(scope="module")
def dagster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Dagster:
    data = once_per_session(tmp_path_factory, "dagster", lambda: _run(request, tmp_path_factory))
    return Dagster(**data)


def _run(request: pytest.FixtureRequest, factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real workers, then the asset's runs in one Dagster process; what they left, as JSON."""
    venv = venvs.ensure("dagster")
    with scheduler_workers(request, factory.mktemp("dagster-workers")) as workers:
        home = factory.mktemp("dagster-home")
        env = scheduler_env(
            PYTHONPATH=str(ROOT),
            DAGSTER_HOME=str(home),
            BROKER_HOST=workers.host,
            BROKER_PORT=str(workers.port),
            BROKER_DB=str(workers.db),
            BROKER_USER=ACL_USER,
            BROKER_PASSWORD=PASSWORD,
            MKTO_BULK_DOCS_EXAMPLES=str(
                docs_examples(ROOT / "docs" / "etl" / "dagster.md", home / "docs_examples")
            ),
        )
        key = uuid.uuid4().hex
        runs = [
            {"name": "plain", "source": workers.leads(150, 0), "key": f"p:{key}", "strict": True},
            {
                "name": "refused",
                "source": workers.leads(40, 1000, bad=True),
                "key": f"r:{key}",
                "strict": True,
            },
        ]
        workers.pipeline.wait_ready()
        out = home / "result.json"
        done = subprocess.run(
            [str(venvs.python(venv)), str(HERE / "run_assets.py"), json.dumps(runs), str(out)],
            env=env, capture_output=True, text=True, timeout=400, check=False,
        )  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 0 and out.exists(), output[-8000:]
        return {"result": json.loads(out.read_text()), "output": output}


def test_an_asset_loads_through_the_resource_and_records_the_load_as_metadata(
    dagster: Dagster,
) -> None:
    run = dagster.run("plain")
    assert run["success"], dagster.output[-6000:]
    metadata = run["metadata"]
    assert (metadata["state"], metadata["rows_read"], metadata["rows_processed"]) == (
        "succeeded", 150, 150,
    )  # fmt: skip
    assert metadata["rows_failed"] == 0 and metadata["chunks"] > 1
    assert metadata["report_uri"].endswith(f"/{metadata['load_id']}/report.json")
    assert (
        f"load_id={metadata['load_id']} started (broker redis://{ACL_USER}:***@" in dagster.output
    )


def test_fail_on_row_errors_fails_the_asset_with_the_load_as_the_failures_metadata(
    dagster: Dagster,
) -> None:
    run = dagster.run("refused")
    assert not run["success"]
    failure = run["failure"]
    load_id = failure["metadata"]["load_id"]
    assert failure["description"].startswith(
        f"load {load_id} succeeded_with_row_errors: 40 rows processed, 1 row refused by Marketo"
    )
    assert failure["description"].endswith("; fail_on_row_errors is set")
    assert (failure["metadata"]["rows_failed"], failure["metadata"]["rows_processed"]) == (1, 40)


def test_nothing_dagster_keeps_holds_the_password_and_it_needs_no_marketo_settings(
    dagster: Dagster,
) -> None:
    kept = json.dumps([run["kept"] for run in dagster.result["runs"].values()])
    assert dagster.run("plain")["metadata"]["load_id"] in kept, "the event log is what was read"
    for secret in SECRETS:
        assert secret not in dagster.output, f"{secret!r} in the Dagster process's output"
        assert secret not in kept, f"{secret!r} in Dagster's event log or run config"
    assert dagster.result["foreign_settings"] == []
    assert dagster.result["modules"] == []


def test_the_example_of_the_docs_page_defines_its_asset_in_dagster(dagster: Dagster) -> None:
    assert dagster.result["docs_examples"] == {"example_0": ["marketo_leads"]}
