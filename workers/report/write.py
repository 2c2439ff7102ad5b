"""``report.html`` next to ``report.json``: built from the ledger, written to S3, read back.

The finish step writes it; ``mkto-bulk report`` reads it, or builds it again
from the ledger when the load has none in S3 (it ended before the page existed,
or the S3 object was removed).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from workers import defaults
from workers.errors import SourceNotFound
from workers.importers import IMPORTERS
from workers.report.html import render
from workers.report.reasons import count_reasons
from workers.report.timeline import MARKETO_IMPORT_SLOTS
from workers.state.records import Chunk, Load, LoadState
from workers.storage import Storage

logger = logging.getLogger(__name__)

REPORT_HTML = "report.html"


def build_html(
    storage: Storage,
    load: Load,
    chunks: Sequence[Chunk],
    *,
    state: LoadState | str,
    finished_at: float | None,
) -> str:
    """The page for a load, with its failure reasons counted from S3 (bounded reads)."""
    api = str(load.params.get("api") or defaults.IMPORT_API)
    importer = IMPORTERS.get(api)
    queued = importer.queued_in_marketo if importer else True
    reasons = (
        count_reasons(storage, load, chunks) if load.rows_failed or load.rows_rejected else None
    )
    return render(
        load,
        chunks,
        state=state,
        finished_at=finished_at,
        reasons=reasons,
        api=api,
        slots=MARKETO_IMPORT_SLOTS if queued else 0,
        api_note=importer.report_note if importer else None,
    )


def write_html(
    storage: Storage,
    load: Load,
    chunks: Sequence[Chunk],
    *,
    state: LoadState | str,
    finished_at: float | None,
) -> str:
    """Write ``report.html`` under the load's staging prefix; returns its URI."""
    uri = load.staged(REPORT_HTML)
    page = build_html(storage, load, chunks, state=state, finished_at=finished_at)
    storage.put(uri, [page.encode("utf-8", errors="replace")])
    return uri


def stored_or_rebuilt(storage: Storage, load: Load, chunks: Sequence[Chunk]) -> tuple[bytes, str]:
    """A finished load's page: the one in S3, else built again from the ledger.

    Returns the page and where it came from (its URI, or ``the ledger``).
    """
    uri = load.staged(REPORT_HTML)
    try:
        return storage.read_bytes(uri), uri
    except SourceNotFound:
        logger.info("load_id=%s has no %s: building it from the ledger", load.load_id, uri)
    page = build_html(storage, load, chunks, state=load.state, finished_at=load.finished_at)
    return page.encode("utf-8", errors="replace"), "the ledger"
