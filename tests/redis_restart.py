"""Restarting the tests' own redis-server in place: same port, same append-only file."""

from __future__ import annotations

import os
import signal
import subprocess

from redis import StrictRedis
from redis.exceptions import RedisError

from tests.services import Service, wait_for


def stop_redis(redis: Service) -> None:
    """Stop Redis (it writes its append-only file); the port stays free for ``start_again``."""
    os.killpg(redis.process.pid, signal.SIGTERM)
    redis.process.wait(30)


def start_again(redis: Service, argv: list[str]) -> None:
    log = redis.log_path.open("ab")
    redis.process = subprocess.Popen(
        argv, cwd=redis.log_path.parent, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    wait_for(lambda: pings(redis.url), timeout=30, what="redis to be back")


def restart(redis: Service) -> None:
    """Stop Redis and start it again on the same port, with the data it wrote."""
    argv = [str(arg) for arg in redis.process.args]  # type: ignore[union-attr]
    stop_redis(redis)
    start_again(redis, argv)


def pings(url: str) -> bool:
    try:
        return bool(StrictRedis.from_url(url, socket_timeout=1).ping())
    except RedisError:
        return False
