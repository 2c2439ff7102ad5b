"""``MktoBulkResource``: the workers' broker as a Dagster resource, and loads through it.

An asset or op asks the resource to ``load`` a payload (the same JSON as
``send_task("mkto_bulk.start_load", kwargs=...)``, docs/etl/payload.md): the
payload is checked here, the start sent by name and a worker's answer awaited
(``loads.start``), then the load's record is read every ``poll_interval``
seconds until it is final (``loads.follow``). A load that does not pass raises
``dagster.Failure`` with its status as metadata; ``load_result`` turns a
finished load into the asset's ``MaterializeResult``.

The password is a field like the others; give it as ``EnvVar("...")`` so that
Dagster keeps the variable's name, not its value, in the run's configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagster import (
    ConfigurableResource,
    Failure,
    MaterializeResult,
    MetadataValue,
    get_dagster_logger,
)
from pydantic import Field

from workers import defaults
from workers.errors import InputError, MktoBulkError
from workers.integrations.broker import DEFAULT_PORT, BrokerAddress
from workers.integrations.loads import follow, start, verdict
from workers.load_status import LoadStatus

if TYPE_CHECKING:
    import redis
    from celery import Celery

# The row counts an asset's metadata shows, in this order.
ROW_COUNTS = (
    "rows_read",
    "rows_rejected",
    "rows_submitted",
    "rows_processed",
    "rows_failed",
    "rows_warned",
    "rows_in_failed_jobs",
)


def _metadata(status: LoadStatus) -> dict[str, Any]:
    data: dict[str, Any] = {"load_id": status.load_id, "state": status.state}
    data.update({name: getattr(status, name) for name in ROW_COUNTS})
    data["chunks"] = status.chunks_total if status.chunks_total is not None else status.chunks.split
    if status.error:
        data["error"] = status.error
    if status.report_uri:
        data["report_uri"] = MetadataValue.url(status.report_uri)
    return data


def load_result(status: LoadStatus) -> MaterializeResult:
    """A finished load as the asset's materialization: its state and row counts as metadata."""
    return MaterializeResult(metadata=_metadata(status))


class MktoBulkResource(ConfigurableResource):
    """The mkto-bulk workers' broker (their ``REDIS_URL``), field by field."""

    host: str = Field(description="The Redis host the workers use as broker")
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    db: int = Field(
        default=0, ge=0, description="The database number (after the last / of REDIS_URL)"
    )
    username: str | None = Field(default=None, description="A Redis ACL user, if any")
    password: str | None = Field(default=None, description='Give it as EnvVar("...")')
    ssl: bool = Field(default=False, description="TLS (rediss://)")
    poll_interval: float = Field(default=defaults.INTEGRATION_POLL_INTERVAL_S, gt=0)
    start_timeout: float = Field(default=defaults.INTEGRATION_START_TIMEOUT_S, gt=0)
    broker_outage: float = Field(default=defaults.INTEGRATION_BROKER_OUTAGE_S, gt=0)

    def address(self) -> BrokerAddress:
        return BrokerAddress(
            host=self.host,
            port=self.port,
            db=self.db,
            username=self.username,
            password=self.password,
            tls=self.ssl,
        )

    def _redis(self) -> redis.Redis:
        import redis

        return redis.Redis.from_url(self.address().url(), health_check_interval=30)

    def _celery(self) -> Celery:
        from celery import Celery

        url = self.address().url()
        app = Celery("mkto_bulk_dagster", broker=url, backend=url, set_as_current=False)
        app.conf.update(
            task_serializer="json",
            result_serializer="json",
            accept_content=["json"],
            broker_connection_max_retries=3,
        )
        return app

    def start_load(self, payload: dict[str, Any]) -> str:
        """Check ``payload``, start the load by task name and return its id (a worker's answer:
        with an ``idempotencyKey``, a retried run gets the load its first try started)."""
        import redis

        where = self.address().shown()
        client = self._redis()
        try:
            client.ping()  # fail fast and plainly, before Celery's own retries
        except redis.RedisError as error:
            raise Failure(
                f"cannot reach the broker ({where}): {type(error).__name__}: {error}"
            ) from None
        finally:
            client.close()
        app = self._celery()
        try:
            started = start(app, payload, timeout=self.start_timeout)
        except InputError as error:
            raise Failure(str(error), allow_retries=False) from None
        except MktoBulkError as error:
            raise Failure(str(error)) from None
        finally:
            app.close()
        get_dagster_logger().info(
            "load_id=%s %s (broker %s)",
            started.load_id,
            "started" if started.created else "already started under this idempotency key",
            where,
        )
        return started.load_id

    def wait_for_load(self, load_id: str, *, timeout: float | None = None) -> LoadStatus:
        """Wait until the load (started here or elsewhere) is final; its status."""
        client = self._redis()
        try:
            return follow(
                client,
                load_id,
                where=self.address().shown(),
                poll_interval=self.poll_interval,
                timeout=timeout,
                broker_outage=self.broker_outage,
                log=get_dagster_logger(),
            )
        except MktoBulkError as error:
            raise Failure(str(error)) from None
        finally:
            client.close()

    def load(
        self,
        payload: dict[str, Any],
        *,
        fail_on_row_errors: bool = False,
        timeout: float | None = None,
    ) -> LoadStatus:
        """Start a load, wait for its end and return its status, or raise ``dagster.Failure``
        (with the status as metadata) when it does not pass: ``failed``, ``counts_mismatch``,
        or ``succeeded_with_row_errors`` with ``fail_on_row_errors`` (not retried: the same
        load would end the same way)."""
        return self.check(self.wait_for_load(self.start_load(payload), timeout=timeout),
                          fail_on_row_errors=fail_on_row_errors)  # fmt: skip

    @staticmethod
    def check(status: LoadStatus, *, fail_on_row_errors: bool = False) -> LoadStatus:
        """``status`` if the load passes; ``dagster.Failure`` naming how it ended if not."""
        judged = verdict(status, fail_on_row_errors=fail_on_row_errors)
        if not judged.passed:
            raise Failure(
                judged.message, metadata=_metadata(status), allow_retries=judged.retry_can_help
            )
        get_dagster_logger().info("%s (report: %s)", judged.message, status.report_uri)
        return status
