"""Per-process resources (Redis, ledger, admission, storage, Marketo, importers), made lazily.

Connections must not cross a fork, so nothing is built at import time: the
first use in each worker process builds them, and a changed pid rebuilds them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property

import redis

from workers import defaults
from workers.importers import Importer, make_importer
from workers.load_request import LoadRequest
from workers.marketo import MarketoClient
from workers.settings import Settings, get_settings
from workers.state.admission import Admission
from workers.state.ledger import Ledger
from workers.storage import Storage


@dataclass
class Runtime:
    settings: Settings
    # Importers by registry name, built on first use; a test may put a StubImporter here.
    importers: dict[str, Importer] = field(default_factory=dict)

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url, health_check_interval=30)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.redis)

    @cached_property
    def admission(self) -> Admission:
        return Admission(
            self.redis,
            self.settings.instance,
            max_outstanding=self.settings.max_outstanding_jobs,
            lease_s=self.settings.permit_lease_s,
        )

    @cached_property
    def storage(self) -> Storage:
        return Storage(self.settings)

    @cached_property
    def marketo(self) -> MarketoClient:
        return MarketoClient.from_settings(self.settings, self.redis)

    def importer_for(self, request: LoadRequest) -> Importer:
        """The import API this load goes through; the steps submit, poll and collect with it.

        The payload's ``api`` chooses it; a load without one uses bulk import.
        """
        name = request.api or defaults.IMPORT_API
        if name not in self.importers:
            self.importers[name] = make_importer(name, self.marketo)
        return self.importers[name]


_current: tuple[int, Runtime] | None = None


def runtime() -> Runtime:
    """This process's runtime, rebuilt after a fork."""
    global _current
    if _current is None or _current[0] != os.getpid():
        _current = (os.getpid(), Runtime(get_settings()))
    return _current[1]
