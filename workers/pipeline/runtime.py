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
from workers.importers import IMPORTERS, Importer, make_importer
from workers.load_request import LoadRequest
from workers.marketo import MarketoClient
from workers.redis_clients import redis_client
from workers.settings import Settings, get_settings
from workers.state import keys as redis_keys
from workers.state.admission import Admission
from workers.state.ledger import Ledger
from workers.storage import Storage


@dataclass
class Runtime:
    settings: Settings
    # Importers by registry name, built on first use; a test may put a StubImporter here.
    importers: dict[str, Importer] = field(default_factory=dict)
    _lanes: dict[str, Admission] = field(default_factory=dict, repr=False)
    _api_of: dict[str, str] = field(default_factory=dict, repr=False)  # load id -> its API

    @cached_property
    def redis(self) -> redis.Redis:
        return redis_client(self.settings, health_check_interval=30)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.redis)

    @cached_property
    def admission(self) -> Admission:
        """Bulk import's lane: Marketo's import jobs of this instance."""
        return self.lane_for(defaults.IMPORT_API)

    def lane_for(self, api: str) -> Admission:
        """The admission lane of an import API: its own line of chunks on this instance."""
        if api not in self._lanes:
            in_flight, ceiling = IMPORTERS[api].lane(self.settings)
            self._lanes[api] = Admission(
                self.redis,
                redis_keys.admission_lane(self.settings.instance, api),
                max_outstanding=in_flight,
                lease_s=self.settings.permit_lease_s,
                ceiling=ceiling,
            )
        return self._lanes[api]

    @property
    def lanes(self) -> list[Admission]:
        """Every API's lane (the pump grants in each, the reconciler sweeps each)."""
        return [self.lane_for(api) for api in IMPORTERS]

    def lane(self, chunk_id: str) -> Admission:
        """The lane of the chunk's load (its API never changes, so it is looked up once)."""
        load_id, _ = Ledger.parse_chunk_id(chunk_id)
        return self.load_lane(load_id)

    def load_lane(self, load_id: str) -> Admission:
        """The lane of a load's chunks: its import API's."""
        if load_id not in self._api_of:
            if len(self._api_of) > API_MEMORY:
                self._api_of.clear()
            self._api_of[load_id] = self.ledger.load(load_id).request.api or defaults.IMPORT_API
        return self.lane_for(self._api_of[load_id])

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
        return self.importer_named(request.api or defaults.IMPORT_API)

    def importer_named(self, name: str) -> Importer:
        """The import API ``name`` (one of ``workers.importers.IMPORTERS``)."""
        if name not in self.importers:
            self.importers[name] = make_importer(name, self.marketo)
        return self.importers[name]


API_MEMORY = 10_000  # loads whose API a process remembers before it starts afresh

_current: tuple[int, Runtime] | None = None


def runtime() -> Runtime:
    """This process's runtime, rebuilt after a fork."""
    global _current
    if _current is None or _current[0] != os.getpid():
        _current = (os.getpid(), Runtime(get_settings()))
    return _current[1]
