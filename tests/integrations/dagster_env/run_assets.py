"""Materialize assets that load through ``MktoBulkResource`` in the Dagster venv; write JSON.

``python run_assets.py RUNS_JSON OUT_JSON``: ``RUNS_JSON`` is a list of
``{"name", "source", "key", "strict"}``; each run materializes the asset
``marketo_leads`` with that config on one ephemeral Dagster instance. The broker
is the resource's fields from the environment (``BROKER_HOST``, ``BROKER_PORT``,
``BROKER_DB``, ``BROKER_USER``), its password an ``EnvVar``. For each run the
JSON holds whether it succeeded, the materialization's metadata, the failure's
description and metadata, and every event and the run's config as Dagster keeps
them (text, for the test to look for secrets in); and whether this process saw
any Marketo, AWS or S3 setting (it must not need one).
"""

# No ``from __future__ import annotations``: Dagster reads the asset's annotations as types.
import json
import os
import sys
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    Config,
    DagsterEventType,
    DagsterInstance,
    EnvVar,
    MaterializeResult,
    asset,
    materialize,
)

from workers.integrations.dagster import MktoBulkResource, load_result

UNNEEDED = ("boto3", "botocore", "tasks", "workers.celery_app")  # S3, the workers' tasks


class LoadConfig(Config):
    source: str
    key: str
    strict: bool = False


@asset
def marketo_leads(
    context: AssetExecutionContext, config: LoadConfig, mkto_bulk: MktoBulkResource
) -> MaterializeResult:
    payload = {
        "source": config.source,
        "object": "leads",
        "lookupField": "email",
        "idempotencyKey": config.key,
    }
    return load_result(mkto_bulk.load(payload, fail_on_row_errors=config.strict))


def _value(value: Any) -> Any:
    return getattr(value, "value", value)


def _run(instance: DagsterInstance, resource: MktoBulkResource, run: dict[str, Any]) -> Any:
    config = {"source": run["source"], "key": run["key"], "strict": run["strict"]}
    result = materialize(
        [marketo_leads],
        instance=instance,
        resources={"mkto_bulk": resource},
        run_config={"ops": {"marketo_leads": {"config": config}}},
        raise_on_error=False,
    )
    materialized = result.asset_materializations_for_node("marketo_leads")
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    failure: dict[str, Any] | None = None
    if failures:
        error = failures[0].step_failure_data.user_failure_data
        failure = {
            "description": error.description if error else None,
            "metadata": {k: _value(v) for k, v in (error.metadata if error else {}).items()},
        }
    kept = [record.to_json() if hasattr(record, "to_json") else repr(record)
            for record in instance.all_logs(result.run_id)]  # fmt: skip
    stored = instance.get_run_by_id(result.run_id)
    return {
        "success": result.success,
        "metadata": {k: _value(v) for m in materialized for k, v in m.metadata.items()},
        "failure": failure,
        "kept": [*kept, json.dumps(stored.run_config if stored else None, default=str)],
    }


def _docs_examples(folder: Path) -> dict[str, list[str]]:
    """Run each example of docs/etl/dagster.md: per example, the assets its Definitions hold."""
    from dagster import Definitions

    defined: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.py")):
        namespace: dict[str, Any] = {"__name__": path.stem}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        defined[path.stem] = sorted(
            key.to_user_string()
            for value in namespace.values()
            if isinstance(value, Definitions)
            for key in value.resolve_asset_graph().get_all_asset_keys()
        )
    return defined


def main() -> None:
    runs, out = json.loads(sys.argv[1]), Path(sys.argv[2])
    foreign = sorted(k for k in os.environ if k.startswith(("MARKETO_", "AWS_", "S3_")))
    resource = MktoBulkResource(
        host=os.environ["BROKER_HOST"],
        port=int(os.environ["BROKER_PORT"]),
        db=int(os.environ["BROKER_DB"]),
        username=os.environ["BROKER_USER"],
        password=EnvVar("BROKER_PASSWORD"),
        poll_interval=0.3,
    )
    with DagsterInstance.ephemeral() as instance:
        results = {}
        for run in runs:
            print(f"=== run {run['name']}", flush=True)
            results[run["name"]] = _run(instance, resource, run)
    result = {
        "runs": results,
        "foreign_settings": foreign,
        "modules": sorted(m for m in UNNEEDED if m in sys.modules),
        "docs_examples": _docs_examples(Path(os.environ["MKTO_BULK_DOCS_EXAMPLES"])),
    }
    out.write_text(json.dumps(result, default=str, indent=1))


if __name__ == "__main__":
    main()
