"""The import APIs a load can go through, one module each, and their registry.

Adding an API is one module (an :class:`Importer` subclass) and one line in
``IMPORTERS``; the runtime builds importers by name (``make_importer``) and the
steps reach them through ``Runtime.importer_for``. Tests that need no Marketo
use ``stub.StubImporter``, which is deliberately not registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers.errors import InputError
from workers.importers.base import Importer, Job, JobStatus, ResultFile
from workers.importers.bulk import BulkImporter
from workers.importers.ingestion import IngestionImporter

if TYPE_CHECKING:
    from workers.marketo import MarketoClient

# Registry order is the order of the choices a payload will be told about.
IMPORTERS: dict[str, type[Importer]] = {cls.name: cls for cls in (BulkImporter, IngestionImporter)}


def make_importer(name: str, marketo: MarketoClient) -> Importer:
    """The registered importer ``name`` over this process's Marketo client.

    An unknown name fails the load plainly (e.g. a load recorded by a newer
    version that knew an API this one does not).
    """
    if name not in IMPORTERS:
        known = ", ".join(IMPORTERS)
        raise InputError(f"no import API {name!r} (known: {known})")
    return IMPORTERS[name].from_client(marketo)


__all__ = [
    "IMPORTERS",
    "BulkImporter",
    "Importer",
    "IngestionImporter",
    "Job",
    "JobStatus",
    "ResultFile",
    "make_importer",
]
