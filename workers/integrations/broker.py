"""The workers' Redis as a scheduler's connection names it: host, port, password, database.

An Airflow connection (type ``mkto_bulk``, ``redis`` or ``generic``; or the URI
``redis://:PASSWORD@HOST:6379/0`` in ``AIRFLOW_CONN_MKTO_BULK_DEFAULT``) or a
Dagster resource's fields give the broker's address; :class:`BrokerAddress`
turns them into the Redis URL that Celery and redis-py take. The URL carries the
password, so it is only ever handed to a client: :meth:`BrokerAddress.shown` is
what logs and messages print, and the dataclass's ``repr`` leaves the password out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from workers.errors import SettingsError

DEFAULT_PORT = 6379
TLS_CONN_TYPES = frozenset({"rediss"})
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
CERT_REQS = frozenset({"required", "optional", "none"})


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int = DEFAULT_PORT
    db: int = 0
    username: str | None = None  # a Redis ACL user; None: the default user
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    cert_reqs: str = "required"  # rediss only: how the server's certificate is checked

    def url(self) -> str:
        """The Redis URL with its password: for a client, never for a log or a message."""
        return self._url(self.password)

    def shown(self) -> str:
        """The URL as logs and messages print it: the password is ``***``."""
        return self._url(None if self.password is None else "***", quoted=False)

    def _url(self, password: str | None, *, quoted: bool = True) -> str:
        scheme = "rediss" if self.tls else "redis"
        user = quote(self.username or "", safe="")
        auth = ""
        if password is not None:
            auth = f"{user}:{quote(password, safe='') if quoted else password}@"
        elif self.username:
            auth = f"{user}@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = f"?ssl_cert_reqs={self.cert_reqs}" if self.tls else ""
        return f"{scheme}://{auth}{host}:{self.port}/{self.db}{query}"

    def secrets(self) -> list[str]:
        """What a log masker must hide: the password as given and as the URL spells it."""
        if not self.password:
            return []
        return sorted({self.password, quote(self.password, safe=""), self.url()})


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in TRUE_WORDS


def _number(where: str, name: str, value: Any, low: int, high: int) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not low <= int(text) <= high:
        raise SettingsError(f"{where}: {name} {text[:40]!r} is not a number from {low} to {high}")
    return int(text)


def broker_address(
    where: str,
    *,
    conn_type: str | None,
    host: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    schema: str | None,
    extra: Mapping[str, Any],
) -> BrokerAddress:
    """The broker named by a connection's fields; :class:`SettingsError` naming ``where``
    (``"Airflow connection 'mkto_bulk_default'"``) and the field if they cannot name one.

    ``schema`` or the extra's ``db`` is the database number (default 0); ``login``
    a Redis ACL user; the extra's ``ssl: true`` (or the conn type ``rediss``)
    connects with TLS, checking the certificate as the extra's ``ssl_cert_reqs``
    says (default ``required``).
    """
    name = (host or "").strip()
    if not name:
        raise SettingsError(f"{where}: host is empty (Redis host)")
    if "://" in name or "/" in name or "@" in name:
        raise SettingsError(
            f"{where}: host must be a host name, not a URL "
            "(put the password in the password field, the database in schema)"
        )
    db_value = extra.get("db")
    if db_value is None or db_value == "":
        db_value = schema or 0
    cert_reqs = str(extra.get("ssl_cert_reqs", "required")).strip().lower()
    if cert_reqs not in CERT_REQS:
        raise SettingsError(
            f"{where}: extra ssl_cert_reqs {cert_reqs[:40]!r} is not "
            f"one of {', '.join(sorted(CERT_REQS))}"
        )
    return BrokerAddress(
        host=name,
        port=DEFAULT_PORT if port in (None, "") else _number(where, "port", port, 1, 65535),
        db=_number(where, "database (schema or extra db)", db_value, 0, 1_000_000),
        username=login or None,
        password=password or None,
        tls=(conn_type or "").lower() in TLS_CONN_TYPES or _flag(extra.get("ssl", False)),
        cert_reqs=cert_reqs,
    )
