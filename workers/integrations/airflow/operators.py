"""``MktoBulkLoadOperator``: start a load by task name and wait for it to end.

The operator checks the payload, sends ``mkto_bulk.start_load`` to the broker
and waits for a worker to take it (``loads.start``), pushes the load id as the
XCom ``load_id``, then follows the load: in the task itself (``deferrable=False``,
reading the ledger every ``poll_interval`` seconds), or in the triggerer
(``deferrable=True``: ``MktoBulkLoadTrigger``; the task holds no worker slot
while the load runs). The load's final status (``LoadStatus.as_dict()``: state,
row counts, chunks, error, ``report_uri``) is the task's XCom ``return_value``,
pushed also when the task fails because of how the load ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import redis
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from workers import defaults
from workers.errors import InputError, MktoBulkError
from workers.integrations.airflow.hook import MktoBulkHook
from workers.integrations.airflow.payload import COMMON_ARGUMENTS, build_payload
from workers.integrations.airflow.triggers import MktoBulkLoadTrigger
from workers.integrations.loads import follow, start, status_from_dict, verdict
from workers.load_status import LoadStatus


def conclude(
    task: BaseOperator, context: Context, status: LoadStatus, fail_on_row_errors: bool
) -> dict[str, Any]:
    """The task's end for a finished load: its status as XCom, and a failure if it did not pass."""
    report = status.as_dict()
    judged = verdict(status, fail_on_row_errors=fail_on_row_errors)
    if judged.passed:
        task.log.info("%s (report: %s)", judged.message, status.report_uri)
        return report
    context["ti"].xcom_push(key="return_value", value=report)
    if judged.retry_can_help:
        raise AirflowException(judged.message)
    raise AirflowFailException(judged.message)


def event_status(event: dict[str, Any]) -> LoadStatus:
    """The load a trigger's event carries; an event that says the trigger gave up fails the task."""
    if event.get("status") != "finished":
        raise AirflowException(str(event.get("message", f"the trigger answered {event!r}")))
    return status_from_dict(event["load"])


class MktoBulkLoadOperator(BaseOperator):
    """Load an S3 dataset into Marketo through the mkto-bulk workers, and wait for the load.

    The fields every load has are arguments (``source``, ``object``, ``format``,
    ``input_format``, ``encoding``, ``mapping``, ``api``, ``priority``, ``idempotency_key``,
    ``callback``, ``callback_queue``); the object type's own fields go in
    ``parameters`` under the payload's names (docs/etl/payload.md).
    All of them are templated. ``fail_on_row_errors``: fail the task when the load
    ends ``succeeded_with_row_errors`` (rows Marketo refused, records rejected
    before submission). ``wait_timeout``: seconds to wait for the load's end
    (None: as long as it takes); the load goes on if the task stops waiting.
    """

    template_fields: Sequence[str] = (*COMMON_ARGUMENTS, "parameters")
    template_fields_renderers = {"parameters": "json", "mapping": "json"}
    ui_color = "#dbe9f7"

    def __init__(
        self,
        *,
        source: str,
        object: str,
        parameters: dict[str, Any] | None = None,
        format: str | None = None,
        input_format: str | None = None,
        encoding: str | None = None,
        mapping: dict[str, str | None] | None = None,
        api: str | None = None,
        priority: str | None = None,
        idempotency_key: str | None = None,
        sync_key: str | None = None,
        full: bool | None = None,
        callback: str | None = None,
        callback_queue: str | None = None,
        mkto_bulk_conn_id: str = defaults.AIRFLOW_CONN_ID,
        deferrable: bool = False,
        fail_on_row_errors: bool = False,
        poll_interval: float = defaults.INTEGRATION_POLL_INTERVAL_S,
        start_timeout: float = defaults.INTEGRATION_START_TIMEOUT_S,
        wait_timeout: float | None = None,
        broker_outage: float = defaults.INTEGRATION_BROKER_OUTAGE_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.object = object
        self.parameters = parameters or {}
        self.format = format
        self.input_format = input_format
        self.encoding = encoding
        self.mapping = mapping
        self.api = api
        self.priority = priority
        self.idempotency_key = idempotency_key
        self.sync_key = sync_key
        self.full = full
        self.callback = callback
        self.callback_queue = callback_queue
        self.mkto_bulk_conn_id = mkto_bulk_conn_id
        self.deferrable = deferrable
        self.fail_on_row_errors = fail_on_row_errors
        self.poll_interval = poll_interval
        self.start_timeout = start_timeout
        self.wait_timeout = wait_timeout
        self.broker_outage = broker_outage

    def payload(self) -> dict[str, Any]:
        """The payload the (rendered) arguments make."""
        arguments = {name: getattr(self, name) for name in COMMON_ARGUMENTS}
        return build_payload(arguments, self.parameters)

    def execute(self, context: Context) -> dict[str, Any]:
        hook = MktoBulkHook(self.mkto_bulk_conn_id)
        try:
            payload = self.payload()
        except InputError as error:
            raise AirflowFailException(str(error)) from None
        try:
            client = hook.get_conn()
        except MktoBulkError as error:  # the connection names no broker
            raise AirflowException(str(error)) from None
        try:
            # Fail fast and plainly: Celery's own connection retries take long and say less.
            client.ping()
        except redis.RedisError as error:
            raise AirflowException(
                f"cannot reach the broker ({hook.address.shown()}): {type(error).__name__}: {error}"
            ) from None
        finally:
            client.close()
        app = hook.celery()
        try:
            started = start(app, payload, timeout=self.start_timeout)
        except InputError as error:
            raise AirflowFailException(str(error)) from None  # the same payload fails again
        except MktoBulkError as error:
            raise AirflowException(str(error)) from None
        finally:
            app.close()
        context["ti"].xcom_push(key="load_id", value=started.load_id)
        self.log.info(
            "load_id=%s %s (broker %s)",
            started.load_id,
            "started" if started.created else "already started under this idempotency key",
            hook.address.shown(),
        )
        if self.deferrable:
            self.defer(
                trigger=MktoBulkLoadTrigger(
                    load_id=started.load_id,
                    mkto_bulk_conn_id=self.mkto_bulk_conn_id,
                    poll_interval=self.poll_interval,
                    broker_outage=self.broker_outage,
                ),
                method_name="execute_complete",
                timeout=None if self.wait_timeout is None else timedelta(seconds=self.wait_timeout),
            )
        status = self._wait(hook, started.load_id)
        return conclude(self, context, status, self.fail_on_row_errors)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Where a deferred task resumes once the trigger fired."""
        return conclude(self, context, event_status(event), self.fail_on_row_errors)

    def _wait(self, hook: MktoBulkHook, load_id: str) -> LoadStatus:
        client = hook.get_conn()
        try:
            return follow(
                client,
                load_id,
                where=hook.address.shown(),
                poll_interval=self.poll_interval,
                timeout=self.wait_timeout,
                broker_outage=self.broker_outage,
                log=self.log,
            )
        except MktoBulkError as error:
            raise AirflowException(str(error)) from None
        finally:
            client.close()
