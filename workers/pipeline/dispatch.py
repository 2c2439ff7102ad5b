"""The seam between the pipeline's steps and whatever runs them (Celery tasks in production).

A step returns after deciding what happens next; it asks the dispatcher to
schedule it. The library never imports Celery tasks, and tests can drive the
steps directly with a recording dispatcher.
"""

from __future__ import annotations

from typing import Any, Protocol


class Dispatcher(Protocol):
    def split(self, load_id: str) -> None: ...

    def submit(self, load_id: str, index: int, countdown: float = 0) -> None: ...

    def poll(self, load_id: str, index: int, token: str, countdown: float) -> None: ...

    def collect(self, load_id: str, index: int) -> None: ...

    def finish(self, load_id: str) -> None: ...

    def pump(self, countdown: float = 0) -> None: ...

    def callback(self, task_name: str, report: dict[str, Any], queue: str | None) -> None: ...
