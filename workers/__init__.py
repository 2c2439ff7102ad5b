"""mkto-bulk workers: the Celery app and the libraries its tasks run.

The Celery app is loaded lazily (``workers.app``) so that importing a light
module such as the CLI does not pull in Celery; ``celery -A workers worker``
still finds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery

    app: Celery


def __getattr__(name: str) -> Any:
    if name == "app":
        from workers.celery_app import app

        return app
    raise AttributeError(f"module 'workers' has no attribute {name!r}")
