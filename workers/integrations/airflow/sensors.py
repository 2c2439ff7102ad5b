"""``MktoBulkLoadSensor``: wait for a load started elsewhere (beat, another DAG, the CLI).

Each poke reads the load's record from the ledger; ``deferrable=True`` hands the
wait to ``MktoBulkLoadTrigger`` after a first poke. Once the load is final the
sensor passes or fails as the operator does (``fail_on_row_errors``), and its
XCom ``return_value`` is the load's final status.
"""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import redis
from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue
from airflow.sdk.exceptions import AirflowException

from workers import defaults
from workers.errors import MktoBulkError
from workers.integrations.airflow.hook import MktoBulkHook
from workers.integrations.airflow.operators import conclude, event_status
from workers.integrations.airflow.triggers import MktoBulkLoadTrigger
from workers.integrations.loads import BROKER_DOWN, Outage, read_status

if TYPE_CHECKING:
    from airflow.sdk import XComArg


class MktoBulkLoadSensor(BaseSensorOperator):
    """Wait until the mkto-bulk load ``load_id`` is final (templated, or an upstream task's
    output such as a ``@task`` that started the load).

    ``missing_timeout``: a load id the ledger still does not know after this many
    seconds fails the sensor (a load appears once a worker takes its start); in
    ``reschedule`` mode each poke is a run of its own, and only ``timeout`` applies.
    """

    template_fields = ("load_id",)
    ui_color = "#dbe9f7"

    def __init__(
        self,
        *,
        load_id: str | XComArg,  # an upstream task's output resolves to its id at run time
        mkto_bulk_conn_id: str = defaults.AIRFLOW_CONN_ID,
        fail_on_row_errors: bool = False,
        deferrable: bool = False,
        missing_timeout: float = defaults.INTEGRATION_MISSING_LOAD_S,
        broker_outage: float = defaults.INTEGRATION_BROKER_OUTAGE_S,
        poke_interval: float = defaults.INTEGRATION_POLL_INTERVAL_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.load_id = load_id
        self.mkto_bulk_conn_id = mkto_bulk_conn_id
        self.fail_on_row_errors = fail_on_row_errors
        self.deferrable = deferrable
        self.missing_timeout = missing_timeout
        self.broker_outage = broker_outage
        self._first_poke: float | None = None
        self._outage = Outage(broker_outage)
        self._client: redis.Redis | None = None  # one client for all pokes of a run

    @cached_property
    def _hook(self) -> MktoBulkHook:
        return MktoBulkHook(self.mkto_bulk_conn_id)

    def poke(self, context: Context) -> PokeReturnValue:
        hook = self._hook
        load_id = str(self.load_id)  # rendered by now
        now = time.monotonic()
        if self._first_poke is None:
            self._first_poke = now
        if self._client is None:
            self._client = hook.get_conn()
        try:
            status = read_status(self._client, load_id)
            self._outage.reached()
        except BROKER_DOWN as error:
            try:
                self._outage.unreachable(load_id, error, hook.address.shown())
            except MktoBulkError as gave_up:
                raise AirflowException(str(gave_up)) from None
            return PokeReturnValue(is_done=False)
        except (redis.RedisError, MktoBulkError) as error:
            raise AirflowException(f"cannot read load {load_id}: {error}") from None
        if status is None:
            if now - self._first_poke >= self.missing_timeout:
                raise AirflowException(
                    f"no load {load_id} in the ledger ({hook.address.shown()}) after "
                    f"{self.missing_timeout:g} s (a load appears once a worker takes its start)"
                )
            self.log.info("load_id=%s not in the ledger yet", load_id)
            return PokeReturnValue(is_done=False)
        if not status.terminal:
            self.log.info("load_id=%s %s", load_id, status.state)
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(
            is_done=True, xcom_value=conclude(self, context, status, self.fail_on_row_errors)
        )

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        self.defer(
            trigger=MktoBulkLoadTrigger(
                load_id=str(self.load_id),
                mkto_bulk_conn_id=self.mkto_bulk_conn_id,
                poll_interval=self.poke_interval,
                missing_timeout=self.missing_timeout,
                broker_outage=self.broker_outage,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Where a deferred sensor resumes once the trigger fired."""
        return conclude(self, context, event_status(event), self.fail_on_row_errors)
