"""Retrying a load: a new load of exactly its rows that failed or were not sent.

The rows come from the load's results file (``workers.results.retry``); the new
load is started as any other and names the load it retries (``retry_of``),
which names it back (``retried_by``, in the ledger and in its report). Retrying
the same load again returns the same retry (its idempotency key is the load's).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from workers.errors import InputError, SourceNotFound
from workers.pipeline import start
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.runtime import Runtime
from workers.results.retry import retry_payload, write_retry_source
from workers.state.records import TERMINAL_LOAD_STATES, Load

logger = logging.getLogger(__name__)


def retry(rt: Runtime, dispatch: Dispatcher, load_id: str) -> dict[str, Any]:
    """Start the retry of ``load_id``: ``{"load_id", "created", "retry_of", "rows"}``.

    InputError when the load has not ended, has no results file, or has nothing to retry.
    """
    load = rt.ledger.load(load_id)
    if load.state not in TERMINAL_LOAD_STATES:
        raise InputError(f"load {load_id} is {load.state.value}: retry it once it has ended")
    source = write_retry_source(rt.storage, load)
    answer = start.start_load(rt, dispatch, retry_payload(load, source.uri),
                              fields={"retry_of": load_id})  # fmt: skip
    retry_id = str(answer["load_id"])
    rt.ledger.set_load_fields(load_id, {"retried_by": retry_id})
    _note_in_report(rt, load, retry_id)
    logger.info("retry started load_id=%s retry_of=%s rows=%d", retry_id, load_id, source.rows)
    return {**answer, "retry_of": load_id, "rows": source.rows, "source": source.uri}


def _note_in_report(rt: Runtime, load: Load, retry_id: str) -> None:
    """``retried_by`` in the retried load's report too (its durable record)."""
    if not load.report_uri:
        return
    try:
        report = json.loads(rt.storage.read_bytes(load.report_uri))
    except SourceNotFound:
        return
    report["retried_by"] = retry_id
    rt.storage.put(load.report_uri, [json.dumps(report, indent=2).encode()])
