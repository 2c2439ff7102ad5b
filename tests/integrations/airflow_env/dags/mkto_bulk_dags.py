"""The DAGs the Airflow tests run with ``dag.test()`` (tests/integrations/test_airflow.py).

Each loads the datasets that the run's conf names (``params``, rendered into the
operators' templated fields) into the sandbox through the real workers.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from workers.integrations.airflow import MktoBulkHook, MktoBulkLoadOperator, MktoBulkLoadSensor

PARAMS = {"source": "s3://unset/a.csv", "other": "s3://unset/b.csv", "key": "unset"}
FAST = 0.3  # seconds between reads of a load's record


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, params=PARAMS, catchup=False, tags=["mkto-bulk"])


def _load(**kwargs: Any) -> MktoBulkLoadOperator:
    return MktoBulkLoadOperator(
        task_id="load",
        source="{{ params.source }}",
        object="leads",
        parameters={"lookupField": "email"},
        idempotency_key="{{ params.key }}",
        poll_interval=FAST,
        **kwargs,
    )


with _dag("mkto_load") as mkto_load:
    _load()

with _dag("mkto_load_deferred") as mkto_load_deferred:
    _load(deferrable=True)

with _dag("mkto_load_strict") as mkto_load_strict:
    _load(fail_on_row_errors=True)

with _dag("mkto_load_wrong_password") as mkto_load_wrong_password:
    _load(mkto_bulk_conn_id="mkto_bulk_wrong")


@task
def start_elsewhere(source: str) -> str:
    """What an ETL without the operator does: send the start by name, keep the load id."""
    app = MktoBulkHook().celery()
    answer = app.send_task(
        "mkto_bulk.start_load",
        kwargs={"source": source, "object": "leads", "lookupField": "email"},
    ).get(timeout=60)
    return str(answer["load_id"])


with _dag("mkto_sensor") as mkto_sensor:
    first = start_elsewhere.override(task_id="start_first")("{{ params.source }}")
    polling = MktoBulkLoadSensor(task_id="wait", load_id=first, poke_interval=FAST, timeout=180)
    second = start_elsewhere.override(task_id="start_second")("{{ params.other }}")
    MktoBulkLoadSensor(
        task_id="wait_deferred", load_id=second, deferrable=True, poke_interval=FAST, timeout=180
    )
    polling >> second

with _dag("mkto_sensor_missing") as mkto_sensor_missing:
    MktoBulkLoadSensor(
        task_id="wait",
        load_id="no-such-load",
        deferrable=True,
        missing_timeout=2,
        poke_interval=FAST,
        timeout=60,
    )
