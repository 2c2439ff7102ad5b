"""``MktoBulkLoadTrigger``: follows a load in the triggerer until it ends, holding no worker slot.

A deferred operator or sensor hands its wait to this trigger. In the triggerer's
event loop it reads the load's record from the ledger every ``poll_interval``
seconds with an asyncio Redis client (``loads.aread_status``), and fires one
event when the load is final: ``{"status": "finished", "load": {...}}`` with the
load's status (``LoadStatus.as_dict()``), or ``{"status": "error", "message": ...}``
when it cannot follow the load (the connection names no broker, the load never
appeared, the broker stayed unreachable). Its serialized arguments, which Airflow
stores in its database, hold the connection's id and the load id, never the URL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import redis
from airflow.triggers.base import BaseTrigger, TriggerEvent

from workers import defaults
from workers.cli.load import progress_line
from workers.errors import MktoBulkError
from workers.integrations.airflow.hook import MktoBulkHook
from workers.integrations.loads import BROKER_DOWN, Outage, aread_status

logger = logging.getLogger(__name__)


class MktoBulkLoadTrigger(BaseTrigger):
    """Fires once the load ``load_id`` is final (or cannot be followed).

    ``missing_timeout``: seconds to wait for a load the ledger does not know yet
    (a sensor's load started elsewhere); None: the load is known to exist.
    """

    def __init__(
        self,
        load_id: str,
        mkto_bulk_conn_id: str = defaults.AIRFLOW_CONN_ID,
        poll_interval: float = defaults.INTEGRATION_POLL_INTERVAL_S,
        missing_timeout: float | None = None,
        broker_outage: float = defaults.INTEGRATION_BROKER_OUTAGE_S,
    ) -> None:
        super().__init__()
        self.load_id = load_id
        self.mkto_bulk_conn_id = mkto_bulk_conn_id
        self.poll_interval = poll_interval
        self.missing_timeout = missing_timeout
        self.broker_outage = broker_outage

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "load_id": self.load_id,
                "mkto_bulk_conn_id": self.mkto_bulk_conn_id,
                "poll_interval": self.poll_interval,
                "missing_timeout": self.missing_timeout,
                "broker_outage": self.broker_outage,
            },
        )

    def _error(self, message: str) -> TriggerEvent:
        return TriggerEvent({"status": "error", "load_id": self.load_id, "message": message})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = MktoBulkHook(self.mkto_bulk_conn_id)
        try:
            client = await hook.aget_conn()
            where = (await hook.aaddress()).shown()
        except MktoBulkError as error:
            yield self._error(str(error))
            return
        started = time.monotonic()
        outage = Outage(self.broker_outage)
        last_line = ""
        try:
            while True:
                try:
                    status = await aread_status(client, self.load_id)
                    outage.reached()
                except BROKER_DOWN as error:
                    try:
                        outage.unreachable(self.load_id, error, where)
                    except MktoBulkError as gave_up:
                        yield self._error(str(gave_up))
                        return
                    await asyncio.sleep(self.poll_interval)
                    continue
                except (redis.RedisError, MktoBulkError) as error:
                    yield self._error(f"cannot read load {self.load_id} ({where}): {error}")
                    return
                if status is not None and status.terminal:
                    yield TriggerEvent({"status": "finished", "load": status.as_dict()})
                    return
                waited = time.monotonic() - started
                missing = status is None and self.missing_timeout is not None
                if missing and waited >= (self.missing_timeout or 0):
                    yield self._error(
                        f"no load {self.load_id} in the ledger ({where}) after "
                        f"{self.missing_timeout:g} s (a load appears once a worker takes its start)"
                    )
                    return
                line = progress_line(status, waited)
                if line.split(" ", 1)[1:] != last_line.split(" ", 1)[1:]:
                    self.log.info("load_id=%s %s", self.load_id, line)
                    last_line = line
                await asyncio.sleep(self.poll_interval)
        finally:
            await client.aclose()
