"""Run DAGs of ``dags/`` with ``dag.test()`` in the Airflow venv; write what they left as JSON.

``python run_dag.py RUNS_JSON OUT_JSON`` with ``AIRFLOW_HOME`` set up by the test
(its sqlite database migrated, ``dags/`` as the DAGs folder). ``RUNS_JSON`` is a
list of ``{"name", "dag_id", "conf"}``, run one after the other in this one
process (Airflow's start is the slow part). For each run the JSON holds each
task's state, every XCom, the rendered template fields; and once: the triggers
Airflow stored, the providers manager's view of mkto-bulk, the DAGs that the
examples of the docs (in ``$MKTO_BULK_DOCS_EXAMPLES``) define, and whether this
process saw any Marketo, AWS or S3 setting (it must not need one).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any


def _dags() -> dict[str, Any]:
    from airflow.sdk import DAG

    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "mkto_bulk_dags.py"
    spec = importlib.util.spec_from_file_location("mkto_bulk_dags", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {v.dag_id: v for v in vars(module).values() if isinstance(v, DAG)}


def _left(dag_id: str, run_id: str) -> dict[str, Any]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id).all()
        xcoms: dict[str, dict[str, Any]] = {}
        for row in session.query(XComModel).filter_by(dag_id=dag_id, run_id=run_id):
            xcoms.setdefault(row.task_id, {})[row.key] = XComModel.deserialize_value(row)
        rendered = {
            row.task_id: row.rendered_fields
            for row in session.query(RenderedTaskInstanceFields).filter_by(
                dag_id=dag_id, run_id=run_id
            )
        }
        return {
            "states": {ti.task_id: str(ti.state) for ti in tis},
            "xcom": xcoms,
            "rendered": rendered,
        }


def _triggers() -> list[dict[str, str]]:
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    with create_session() as session:
        return [
            {"classpath": t.classpath, "kwargs": repr(t.kwargs)} for t in session.query(Trigger)
        ]


def _docs_examples(folder: Path) -> dict[str, list[str]]:
    """Run each example of docs/etl/airflow.md: per example, the DAGs it defines and their tasks."""
    from airflow.sdk import DAG

    defined: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.py")):
        namespace: dict[str, Any] = {"__name__": path.stem}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        defined[path.stem] = sorted(
            f"{v.dag_id}: {', '.join(sorted(v.task_ids))}"
            for v in namespace.values()
            if isinstance(v, DAG)
        )
    return defined


def _provider() -> dict[str, Any]:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    info = manager.providers.get("mkto-bulk")
    hook = manager.hooks.get("mkto_bulk")
    return {
        "registered": info is not None,
        "version": info.version if info else None,
        "hook": f"{hook.hook_class_name}" if hook else None,
    }


def main() -> None:
    runs, out = json.loads(sys.argv[1]), Path(sys.argv[2])
    foreign = sorted(k for k in os.environ if k.startswith(("MARKETO_", "AWS_", "S3_")))
    dags = _dags()
    results = {}
    for run in runs:
        print(f"=== run {run['name']}: {run['dag_id']}", flush=True)
        dag_run = dags[run["dag_id"]].test(run_conf=run["conf"])
        results[run["name"]] = {
            "dag_state": str(dag_run.state),
            **_left(run["dag_id"], dag_run.run_id),
        }
    result = {
        "runs": results,
        "triggers": _triggers(),
        "foreign_settings": foreign,
        "modules": sorted(
            m for m in ("boto3", "botocore", "tasks", "workers.celery_app") if m in sys.modules
        ),
        "provider": _provider(),
        "docs_examples": _docs_examples(Path(os.environ["MKTO_BULK_DOCS_EXAMPLES"])),
    }
    out.write_text(json.dumps(result, default=str, indent=1))


if __name__ == "__main__":
    main()
