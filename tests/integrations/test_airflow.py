"""The Airflow operator, trigger and sensor in a real Airflow, against real workers.

Airflow runs in its own virtualenv (``venvs.py``, built by ``make test``
before pytest), with a sqlite database in a temporary AIRFLOW_HOME. The module
starts real mkto-bulk workers on the test Redis, S3 endpoint and sandbox (whose
imports take a second or two, so that every wait really waits), then runs the
DAGs of ``airflow_env/dags/`` with ``dag.test()`` in one Airflow process (its
start is the slow part) whose environment has no Marketo, AWS or S3 settings:
only an Airflow connection to the broker, as a Redis ACL user whose password
must not show anywhere Airflow keeps things (logs, XComs, rendered fields,
stored triggers). Each test then checks one run.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import pytest

from tests.integrations.airflow_helpers import HERE, Airflow, airflow_env, when
from tests.integrations.helpers import (
    ACL_USER,
    IMPORT_OVERHEAD_S,
    SECRETS,
    once_per_session,
    scheduler_workers,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), pytest.mark.xdist_group("airflow")]

BROKER_SHOWN = f"redis://{ACL_USER}:***@127.0.0.1:"  # how logs and messages name the broker


@pytest.fixture(scope="module")
def airflow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    data = once_per_session(tmp_path_factory, "airflow", lambda: _run(request, tmp_path_factory))
    return Airflow(**data)


def _run(request: pytest.FixtureRequest, factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real workers, then every DAG run in one Airflow process; what it left, as JSON."""
    with scheduler_workers(request, factory.mktemp("airflow-workers")) as workers:
        home = factory.mktemp("airflow-home")
        environment = airflow_env(home, workers)
        sources = {
            "plain": workers.leads(120, 0),
            "deferred": workers.leads(60, 1000),
            "first": workers.leads(40, 2000),
            "second": workers.leads(30, 3000),
            "refused": workers.leads(50, 4000, bad=True),
        }
        key = uuid.uuid4().hex
        runs = [
            ("plain", "mkto_load", {"source": sources["plain"], "key": f"p:{key}"}),
            ("deferred", "mkto_load_deferred", {"source": sources["deferred"], "key": f"d:{key}"}),
            ("sensor", "mkto_sensor", {"source": sources["first"], "other": sources["second"]}),
            ("missing", "mkto_sensor_missing", {}),
            ("strict", "mkto_load_strict", {"source": sources["refused"], "key": f"s:{key}"}),
            ("bad_payload", "mkto_load", {"source": "s3://Not_A_Bucket/x.csv", "key": f"b:{key}"}),
            (
                "wrong_password",
                "mkto_load_wrong_password",
                {"source": sources["plain"], "key": "w"},
            ),
        ]
        migrate = subprocess.run(
            [environment["PYTHON"], "-m", "airflow", "db", "migrate"],
            env=environment, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        workers.pipeline.wait_ready()
        out = home / "result.json"
        listed = [{"name": n, "dag_id": d, "conf": c} for n, d, c in runs]
        done = subprocess.run(
            [environment["PYTHON"], str(HERE / "run_dag.py"), json.dumps(listed), str(out)],
            env=environment, capture_output=True, text=True, timeout=700, check=False,
        )  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 0 and out.exists(), output[-8000:]
        logs = "\n".join(
            p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file()
        )
        return {
            "result": json.loads(out.read_text()),
            "output": output,
            "logs": logs,
            "sources": sources,
        }


def test_nothing_airflow_keeps_holds_a_secret_and_it_needs_no_marketo_settings(
    airflow: Airflow,
) -> None:
    kept = json.dumps([airflow.result["runs"], airflow.result["triggers"]])
    assert BROKER_SHOWN in airflow.output, "the broker is logged masked"
    for secret in SECRETS:
        assert secret not in airflow.output, f"{secret!r} in the Airflow process's output"
        assert secret not in airflow.logs, f"{secret!r} in Airflow's log files"
        assert secret not in kept, f"{secret!r} in XComs, rendered fields or triggers"
    assert airflow.result["foreign_settings"] == [], "the Airflow side saw Marketo/AWS/S3 settings"
    assert airflow.result["modules"] == [], "the Airflow side imported S3 or the workers' tasks"
    assert airflow.result["provider"] == {
        "registered": True,
        "version": "0.1.0",
        "hook": "workers.integrations.airflow.hook.MktoBulkHook",
    }


def test_the_examples_of_the_docs_page_run_in_airflow(airflow: Airflow) -> None:
    assert airflow.result["docs_examples"] == {
        "example_0": ["leads_to_marketo: load_leads"],
        "example_1": [],  # the sensor alone: it is made without error
    }


def test_the_operator_loads_into_marketo_and_pushes_the_report_to_xcom(airflow: Airflow) -> None:
    assert airflow.state("plain", "load") == "success", airflow.printed("plain")[-6000:]
    report = airflow.xcom("plain", "load")
    assert report["state"] == "succeeded"
    assert (report["rows_read"], report["rows_processed"], report["rows_failed"]) == (120, 120, 0)
    assert report["chunks"]["done"] == report["chunks_total"] > 1, "several chunks, all done"
    assert report["report_uri"] == f"{report['staging_uri']}/report.json"
    assert airflow.xcom("plain", "load", "load_id") == report["load_id"]
    rendered = airflow.run("plain")["rendered"]["load"]
    assert rendered["source"] == airflow.sources["plain"], "the source rendered from the params"
    assert rendered["parameters"] == {"lookupField": "email"}
    printed = airflow.printed("plain")
    assert f"load_id={report['load_id']} started" in printed
    assert f"load {report['load_id']} succeeded: 120 rows processed" in printed


def test_the_deferrable_operator_waits_in_a_trigger_and_ends_the_same(airflow: Airflow) -> None:
    printed = airflow.printed("deferred")
    assert airflow.state("deferred", "load") == "success", printed[-6000:]
    assert "Pausing task as DEFERRED" in printed and "running trigger in line" in printed
    report = airflow.xcom("deferred", "load")
    assert (report["state"], report["rows_processed"]) == ("succeeded", 60)
    began, ended = (
        when(printed, mark) for mark in ("running trigger in line", "Trigger completed")
    )
    assert ended - began >= IMPORT_OVERHEAD_S * 0.8, "the wait for the load was in the trigger"
    first = next(line for line in printed.splitlines() if "MktoBulkLoadTrigger]" in line)
    assert f"load_id={report['load_id']} 00:00 [" in first, "the trigger logs the progress line"
    assert any(f"] {state}: " in first for state in ("pending", "splitting", "loading"))
    stored = [t for t in airflow.result["triggers"] if report["load_id"] in t["kwargs"]]
    assert [t["classpath"] for t in stored] == [
        "workers.integrations.airflow.triggers.MktoBulkLoadTrigger"
    ]
    assert "'mkto_bulk_conn_id': 'mkto_bulk_default'" in stored[0]["kwargs"], "an id, no URL"
    assert "redis://" not in stored[0]["kwargs"]


def test_the_sensor_follows_a_load_started_elsewhere_polling_or_deferred(
    airflow: Airflow,
) -> None:
    printed = airflow.printed("sensor")
    for task_id, start, rows in (
        ("wait", "start_first", 40),
        ("wait_deferred", "start_second", 30),
    ):
        assert airflow.state("sensor", task_id) == "success", printed[-6000:]
        load_id = airflow.xcom("sensor", start)
        report = airflow.xcom("sensor", task_id)
        assert (report["load_id"], report["state"], report["rows_processed"]) == (
            load_id, "succeeded", rows,
        )  # fmt: skip
    assert "running trigger in line" in printed, "the deferrable sensor was deferred"


def test_the_sensor_fails_for_a_load_id_that_never_appears(airflow: Airflow) -> None:
    assert airflow.state("missing", "wait") == "failed"
    assert f"no load no-such-load in the ledger ({BROKER_SHOWN}" in airflow.printed("missing")
    assert "after 2 s (a load appears once a worker takes its start)" in airflow.printed("missing")


def test_fail_on_row_errors_fails_the_task_when_marketo_refuses_rows(airflow: Airflow) -> None:
    assert airflow.state("strict", "load") == "failed"
    assert airflow.run("strict")["dag_state"] == "failed"
    report = airflow.xcom("strict", "load")
    assert report["state"] == "succeeded_with_row_errors", "the report is kept for the failure"
    assert (report["rows_processed"], report["rows_failed"]) == (50, 1)
    printed = airflow.printed("strict")
    assert (
        f"load {report['load_id']} succeeded_with_row_errors: 50 rows processed, "
        "1 row refused by Marketo, 0 rows rejected before submission"
    ) in printed
    assert "fail_on_row_errors is set" in printed


def test_a_bad_payload_fails_the_task_at_once_naming_the_field(airflow: Airflow) -> None:
    assert airflow.state("bad_payload", "load") == "failed"
    assert airflow.xcom("bad_payload", "load", "load_id") is None, "nothing was started"
    assert (
        'invalid load request: source: "Not_A_Bucket" is not a valid bucket name'
        in airflow.printed("bad_payload")
    )


def test_a_password_redis_refuses_fails_the_task_saying_so_and_starts_nothing(
    airflow: Airflow,
) -> None:
    assert airflow.state("wrong_password", "load") == "failed"
    assert airflow.xcom("wrong_password", "load", "load_id") is None
    assert f"cannot reach the broker ({BROKER_SHOWN}" in airflow.printed("wrong_password")
    assert "AuthenticationError" in airflow.printed("wrong_password")
