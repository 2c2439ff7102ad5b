"""Which API a queue's records go through: the Data Ingestion API when the instance has it.

Left to us (no ``api`` in the push), records go through the Data Ingestion API
when a Munchkin id is configured, and through bulk import otherwise, or once
Marketo has answered 403 ``4030801`` (not entitled): that answer is kept in
Redis for ``PUSH_NOT_ENTITLED_RECHECK_S`` for every worker, then tried again.
A push that asks for ``"api": "ingestion"`` on an instance known not to be
entitled is refused at once, with Marketo's message.
"""

from __future__ import annotations

import redis

from workers import defaults
from workers.errors import InputError
from workers.settings import Settings
from workers.state import keys as redis_keys

INGESTION, BULK = "ingestion", "bulk"


def not_entitled(client: redis.Redis, instance: str) -> str | None:
    """Marketo's 4030801 message, if it was answered lately."""
    raw = client.get(redis_keys.push_not_entitled(instance))
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def remember_not_entitled(client: redis.Redis, instance: str, message: str) -> None:
    ttl = int(defaults.PUSH_NOT_ENTITLED_RECHECK_S)
    client.set(redis_keys.push_not_entitled(instance), message, ex=ttl)


def choose(settings: Settings, client: redis.Redis, asked: str | None) -> str:
    """The API for a queue that asked for ``asked`` (None: ours to choose)."""
    if asked is not None:
        return asked
    if settings.munchkin_id is None or not_entitled(client, settings.instance):
        return BULK
    return INGESTION


def check_asked(settings: Settings, client: redis.Redis, asked: str | None) -> None:
    """Refuse ``"api": "ingestion"`` where it cannot work (InputError naming the field)."""
    if asked != INGESTION:
        return
    if settings.munchkin_id is None:
        raise InputError(
            'invalid push: api: "ingestion" needs the instance\'s Munchkin id '
            "(MARKETO_MUNCHKIN_ID); leave api out to use bulk import"
        )
    known = not_entitled(client, settings.instance)
    if known:
        raise InputError(
            f'invalid push: api: "ingestion": {known}; leave api out or push with "api": "bulk"'
        )
