"""mkto-bulk for Apache Airflow: a hook, an operator, a trigger and a sensor.

``pip install 'mkto-bulk[airflow]'`` (docs/etl/airflow.md). The Airflow side
needs only the broker (an Airflow connection naming the workers' Redis): it
starts a load by sending ``mkto_bulk.start_load`` by name, exactly as an ETL's
``send_task`` does, and follows the load's record in the ledger. It never needs
Marketo's credentials or S3's.

Only the modules ``hook``, ``operators``, ``triggers`` and ``sensors`` import
Airflow; ``payload`` and what they share with the other integrations
(``workers.integrations.broker``, ``workers.integrations.loads``) do not, so
the main test suite runs them without Airflow installed. The classes are
importable from here (``from workers.integrations.airflow import
MktoBulkLoadOperator``), loaded on first use so that ``get_provider_info`` (the
provider's entry point) stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.integrations.airflow.hook import MktoBulkHook
    from workers.integrations.airflow.operators import MktoBulkLoadOperator
    from workers.integrations.airflow.sensors import MktoBulkLoadSensor
    from workers.integrations.airflow.triggers import MktoBulkLoadTrigger

PACKAGE = __name__
_CLASSES = {
    "MktoBulkHook": "hook",
    "MktoBulkLoadOperator": "operators",
    "MktoBulkLoadSensor": "sensors",
    "MktoBulkLoadTrigger": "triggers",
}
__all__ = [
    "MktoBulkHook",
    "MktoBulkLoadOperator",
    "MktoBulkLoadSensor",
    "MktoBulkLoadTrigger",
    "get_provider_info",
]


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        return getattr(import_module(f"{PACKAGE}.{_CLASSES[name]}"), name)
    raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")


def get_provider_info() -> dict[str, Any]:
    """What Airflow's providers manager reads (entry point ``apache_airflow_provider``):
    the connection type ``mkto_bulk`` and the modules of the hook, operator, trigger and sensor."""
    integration = "mkto-bulk"

    def modules(kind: str) -> list[dict[str, Any]]:
        return [{"integration-name": integration, "python-modules": [f"{PACKAGE}.{kind}"]}]

    return {
        "package-name": "mkto-bulk",
        "name": "mkto-bulk",
        "description": "Start and follow mkto-bulk loads into Adobe Marketo Engage by task name.",
        "integrations": [{"integration-name": integration, "tags": ["service"]}],
        "hooks": modules("hook"),
        "operators": modules("operators"),
        "sensors": modules("sensors"),
        "triggers": modules("triggers"),
        "connection-types": [
            {"connection-type": "mkto_bulk", "hook-class-name": f"{PACKAGE}.hook.MktoBulkHook"}
        ],
    }
