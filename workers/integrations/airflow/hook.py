"""``MktoBulkHook``: the workers' broker, from an Airflow connection.

The connection names the Redis that the workers use as broker and state
(``broker.broker_address`` reads its fields). From it the hook makes a
producer-only Celery app (it knows the task names, not the tasks) and Redis
clients, sync for the operator and the sensor, asyncio for the trigger. The
Redis URL, which carries the password, is registered with Airflow's secret
masker and never logged: logs print :meth:`BrokerAddress.shown`.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import redis
from airflow.sdk import BaseHook

from workers import defaults
from workers.integrations.broker import BrokerAddress, broker_address

if TYPE_CHECKING:
    import redis.asyncio
    from celery import Celery


def _address(conn: Any, extra: dict[str, Any]) -> BrokerAddress:
    return broker_address(
        f"Airflow connection {conn.conn_id!r}",
        conn_type=conn.conn_type,
        host=conn.host,
        port=conn.port,
        login=conn.login,
        password=conn.password,
        schema=conn.schema,
        extra=extra,
    )


class MktoBulkHook(BaseHook):
    """The mkto-bulk broker named by an Airflow connection (default ``mkto_bulk_default``).

    The connection's fields: host, port (default 6379), password, login (a Redis
    ACL user, if any), schema or the extra's ``db`` (the database number, default
    0), and the extra's ``ssl: true`` for TLS. Its type may be ``mkto_bulk``,
    ``redis`` or ``generic``: only the fields count.
    """

    conn_name_attr = "mkto_bulk_conn_id"
    default_conn_name = defaults.AIRFLOW_CONN_ID
    conn_type = "mkto_bulk"
    hook_name = "mkto-bulk (the workers' Redis)"

    def __init__(self, mkto_bulk_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mkto_bulk_conn_id = mkto_bulk_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": [],
            "relabeling": {
                "host": "Redis host",
                "login": "Redis ACL user (optional)",
                "schema": "Redis database number",
            },
            "placeholders": {"port": "6379", "schema": "0", "extra": '{"ssl": false}'},
        }

    @cached_property
    def address(self) -> BrokerAddress:
        """The broker's address, read once from the connection (its secrets masked)."""
        from airflow.sdk.log import mask_secret

        conn = self.get_connection(self.mkto_bulk_conn_id)
        address = _address(conn, conn.extra_dejson)
        for secret in address.secrets():
            mask_secret(secret)
        return address

    async def aaddress(self) -> BrokerAddress:
        """:attr:`address` from async code (the trigger), without blocking its event loop."""
        if "address" in self.__dict__:
            return self.address
        from airflow.sdk import log as sdk_log

        getter = getattr(BaseHook, "aget_connection", None)
        if getter is not None:
            conn = await getter(self.mkto_bulk_conn_id)
        else:  # an Airflow without the async call: the sync one, off the loop
            from asgiref.sync import sync_to_async

            conn = await sync_to_async(BaseHook.get_connection)(self.mkto_bulk_conn_id)
        aextra = getattr(conn, "aextra_dejson", None)
        extra = await aextra() if aextra is not None else conn.extra_dejson
        address = _address(conn, extra)
        amask = getattr(sdk_log, "amask_secret", None)
        for secret in address.secrets():
            if amask is not None:
                await amask(secret)
            else:
                sdk_log.mask_secret(secret)
        self.__dict__["address"] = address
        return address

    def get_conn(self) -> redis.Redis:
        """A Redis client on the broker (the ledger lives there too)."""
        return redis.Redis.from_url(self.address.url(), health_check_interval=30)

    async def aget_conn(self) -> redis.asyncio.Redis:
        """An asyncio Redis client on the broker, for the trigger."""
        import redis.asyncio

        address = await self.aaddress()
        return redis.asyncio.Redis.from_url(address.url(), health_check_interval=30)

    def celery(self) -> Celery:
        """A producer-only Celery app on the broker: sends tasks by name, reads their answers."""
        from celery import Celery

        url = self.address.url()
        app = Celery("mkto_bulk_airflow", broker=url, backend=url, set_as_current=False)
        app.conf.update(
            task_serializer="json",
            result_serializer="json",
            accept_content=["json"],
            broker_connection_retry_on_startup=True,
            broker_connection_max_retries=3,
        )
        return app

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: can the broker be reached with these fields."""
        try:
            self.get_conn().ping()
        except redis.RedisError as error:
            return False, f"{self.address.shown()}: {type(error).__name__}: {error}"
        return True, f"reached {self.address.shown()}"
