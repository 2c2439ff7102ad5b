"""Starting a load: validate its payload, record it once, and send it to be split."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from workers.load_request import RequestPolicy, parse_load_request
from workers.pipeline.dispatch import Dispatcher
from workers.pipeline.runtime import Runtime
from workers.state.records import LoadFields
from workers.telemetry import traces
from workers.telemetry.context import bind

logger = logging.getLogger(__name__)


def start_load(
    rt: Runtime, dispatch: Dispatcher, payload: dict[str, Any], load_id: str | None = None
) -> dict[str, Any]:
    """Validate the payload and record the load; the same idempotency key returns the first.

    The key reused with a different payload raises IdempotencyConflict (an InputError).
    """
    request = parse_load_request(payload, RequestPolicy.from_settings(rt.settings))
    load_id = load_id or uuid.uuid4().hex
    fields: LoadFields = {"staging": f"{rt.settings.staging_uri}/{load_id}"}
    trace_context = traces.carrier()  # the steps that others start join this trace
    if trace_context:
        fields["trace_context"] = trace_context
    load_id, created = rt.ledger.create_load(
        load_id, request.to_json(), request.idempotency_key, fields
    )
    bind(load_id=load_id)
    if created:
        logger.info("load created load_id=%s source=%s", load_id, request.source)
        # Lost if the worker dies right here: the load is active, so the reconciler splits it.
        dispatch.split(load_id)
    return {"load_id": load_id, "created": created}
