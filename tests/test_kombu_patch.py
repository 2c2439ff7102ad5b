"""A primary that refuses writes (min-replicas-to-write without its replicas) is an outage
to every Redis client, and an ack it refuses does not stall the worker (real redis-server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kombu
import pytest
import redis

from tests.services import Service, start_redis
from workers import kombu_patch
from workers.pipeline.transient import as_transient


@pytest.fixture
def refusing(tmp_path: Path) -> Iterator[Service]:
    """A private redis-server; ``min-replicas-to-write 1`` without replicas refuses writes."""
    service = start_redis(tmp_path)
    yield service
    service.stop()


def _refuse_writes(service: Service, refuse: bool) -> None:
    redis.Redis.from_url(service.url).config_set("min-replicas-to-write", 1 if refuse else 0)


def test_a_refused_write_is_a_connection_error_a_step_waits_out(refusing: Service) -> None:
    kombu_patch.apply()
    client = redis.Redis.from_url(refusing.url)
    _refuse_writes(refusing, True)
    with pytest.raises(redis.ConnectionError) as raised:
        client.set("k", "v")
    assert isinstance(raised.value, kombu_patch.NoReplicasError)
    assert as_transient(raised.value) is not None
    assert client.get("k") is None  # reads still work
    _refuse_writes(refusing, False)
    assert client.set("k", "v")


def test_an_ack_redis_refuses_still_frees_the_workers_prefetch_slot(refusing: Service) -> None:
    kombu_patch.apply()
    with kombu.Connection(refusing.url) as connection:
        queue = connection.SimpleQueue("q")
        queue.put({"n": 1})
        queue.put({"n": 2})
        channel = queue.channel
        channel.basic_qos(0, 1, False)  # prefetch one, as a worker with -c 1
        message = queue.get(timeout=5)
        assert not channel.qos.can_consume()
        _refuse_writes(refusing, True)
        try:
            with pytest.raises(redis.ConnectionError):
                message.ack()
            freed = channel.qos.can_consume()
        finally:
            _refuse_writes(refusing, False)
        assert freed  # the worker can fetch again
        assert queue.get(timeout=5).payload == {"n": 2}
        queue.close()
