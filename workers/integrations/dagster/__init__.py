"""mkto-bulk for Dagster: a resource that starts loads by task name and waits for them.

``pip install 'mkto-bulk[dagster]'`` (docs/etl/dagster.md). Like the Airflow
integration it needs only the broker: the resource's fields name the workers'
Redis (its password from an ``EnvVar``), and it never needs Marketo's
credentials or S3's. ``resource`` is the only module that imports Dagster.
"""

from __future__ import annotations

from workers.integrations.dagster.resource import MktoBulkResource, load_result

__all__ = ["MktoBulkResource", "load_result"]
