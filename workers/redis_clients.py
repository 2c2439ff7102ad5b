"""Every Redis client of the system is made here, from one set of settings.

``REDIS_URL`` names either one server (``redis://``, ``rediss://``, ``unix://``) or
the sentinels that know the current primary, written as Celery and kombu write
them: ``sentinel://h1:26379;sentinel://h2:26379``, with the primary's name in
``REDIS_SENTINEL_MASTER``, the primary's password (if any) in the first address
and the sentinels' own password in ``REDIS_SENTINEL_PASSWORD``. The broker, the
result backend, beat's lock (redbeat) and the ledger's clients all come from
here, so after a failover they all follow the same new primary.

Nothing here logs: the passwords travel only into the clients' options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import redis
from redis.sentinel import Sentinel

from workers.settings import Settings

SENTINEL_PORT = 26379
# A sentinel that does not answer is skipped for the next one after this long.
SENTINEL_SOCKET_TIMEOUT_S = 2.0
# redbeat recognises a Sentinel setup by this URL scheme (its addresses are options).
REDBEAT_SENTINEL_URL = "redis-sentinel://"


@dataclass(frozen=True)
class SentinelAddress:
    """A ``sentinel://`` list read apart: the sentinels, and the primary's db and login."""

    sentinels: tuple[tuple[str, int], ...]
    db: int
    username: str | None
    password: str | None


def sentinel_address(url: str) -> SentinelAddress | None:
    """The sentinels a ``sentinel://`` REDIS_URL lists, or None for a one-server URL."""
    if not url.startswith("sentinel://"):
        return None
    parts = [urlsplit(part) for part in url.split(";") if part]
    # The primary's login and db: written in the first address (or repeated in each).
    login = next((part for part in parts if part.password or part.username), parts[0])
    db = parts[0].path.lstrip("/")
    return SentinelAddress(
        sentinels=tuple((part.hostname or "", part.port or SENTINEL_PORT) for part in parts),
        db=int(db) if db else 0,
        username=unquote(login.username) if login.username else None,
        password=unquote(login.password) if login.password else None,
    )


def _sentinel_url(address: SentinelAddress) -> str:
    """The list for kombu and Celery, the login in every address.

    kombu moves on to the next address when one fails and takes the primary's
    password from the address it is on: an address without it would connect
    to the primary without a password.
    """
    login = ""
    if address.password or address.username:
        login = (
            quote(address.username or "", safe="") + ":" + quote(address.password or "", safe="")
        )
        login += "@"
    return ";".join(
        f"sentinel://{login}{host}:{port}/{address.db}" for host, port in address.sentinels
    )


def _sentinel_kwargs(settings: Settings) -> dict[str, Any]:
    """Options of the connections to the sentinels themselves (not to the primary)."""
    options: dict[str, Any] = {
        "socket_timeout": SENTINEL_SOCKET_TIMEOUT_S,
        "socket_connect_timeout": SENTINEL_SOCKET_TIMEOUT_S,
    }
    if settings.redis_sentinel_password is not None:
        options["password"] = settings.redis_sentinel_password.get_secret_value()
    return options


def redis_client(settings: Settings, *, url: str | None = None, **options: Any) -> redis.Redis:
    """A client of the current primary: ``url`` (default REDIS_URL), ``options`` for redis-py.

    With Sentinel, every connection asks the sentinels where the primary is, so a
    client made before a failover reaches the promoted replica after it.
    """
    target = url or settings.redis_url
    address = sentinel_address(target)
    if address is None:
        return redis.Redis.from_url(target, **options)
    sentinel = Sentinel(
        list(address.sentinels), sentinel_kwargs=_sentinel_kwargs(settings), **options
    )
    login = {"username": address.username, "password": address.password}
    return sentinel.master_for(
        str(settings.redis_sentinel_master),
        db=address.db,
        **{name: value for name, value in login.items() if value is not None},
    )


def celery_redis_conf(
    settings: Settings, transport_options: dict[str, Any], *, url: str | None = None
) -> dict[str, Any]:
    """Celery's broker, result backend and redbeat settings for REDIS_URL (or ``url``).

    ``transport_options`` (the visibility timeout, ...) are the broker's and the
    backend's; Sentinel adds the primary's name and the sentinels' options to both.
    """
    target = url or settings.redis_url
    address = sentinel_address(target)
    options = dict(transport_options)
    redbeat_url, redbeat_options = target, {}
    if address is not None:
        target = _sentinel_url(address)
        options.update(
            master_name=settings.redis_sentinel_master,
            sentinel_kwargs=_sentinel_kwargs(settings),
        )
        # redbeat reads the sentinels from its options; the URL only has to say Sentinel
        # (and parse as a URL: beat's banner shows it).
        host, port = address.sentinels[0]
        redbeat_url = f"{REDBEAT_SENTINEL_URL}{host}:{port}/{address.db}"
        redbeat_options = {
            "sentinels": list(address.sentinels),
            "service_name": settings.redis_sentinel_master,
            "db": address.db,
            "sentinel_kwargs": _sentinel_kwargs(settings),
            "socket_timeout": SENTINEL_SOCKET_TIMEOUT_S,
            **({"password": address.password} if address.password else {}),
            **({"username": address.username} if address.username else {}),
        }
    return {
        "broker_url": target,
        "result_backend": target,
        "broker_transport_options": options,
        "result_backend_transport_options": dict(options),
        "redbeat_redis_url": redbeat_url,
        # Said explicitly, so redbeat does not borrow the broker's transport options.
        "redbeat_redis_options": redbeat_options,
    }
