"""A private Sentinel-managed Redis on loopback: a primary, replicas and sentinels.

Tests and benchmarks of a failover start real ``redis-server`` processes here,
the sentinels included (``redis-server <conf> --sentinel``: the same binary,
no extra package). Every process has its own free port and its own directory;
passwords go into the processes' config files, never on a command line where
``ps`` would show them. Sentinel's timings are cut down so that a failover
takes seconds instead of the default half-minute.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from infra.local_services import STARTUP_TIMEOUT_S, Service, free_port, spawn, wait_for

MASTER_NAME = "mkto"
# Sentinel's clocks, shortened: a primary silent this long is down (default 30 s; 1 s
# made a loaded machine's sentinel give up on a just-promoted replica and fail over twice) ...
DOWN_AFTER_MS = 2000
# ... and a failover that stalls is given up and tried again after this (default 3 min).
FAILOVER_TIMEOUT_MS = 6000
# With min-replicas-to-write: the oldest replica acknowledgement that still counts.
MIN_REPLICAS_MAX_LAG_S = 10


@dataclass
class SentinelGroup:
    """Redis servers (the first starts as primary) watched by sentinels under ``master``."""

    workdir: Path
    master: str
    password: str | None
    sentinel_password: str | None
    quorum: int
    servers: list[Service] = field(default_factory=list)
    sentinels: list[Service] = field(default_factory=list)

    @property
    def url(self) -> str:
        """REDIS_URL for mkto-bulk: every sentinel, the primary's password in the first."""
        login = f":{self.password}@" if self.password else ""
        return ";".join(
            f"sentinel://{login if n == 0 else ''}127.0.0.1:{s.port}/0"
            for n, s in enumerate(self.sentinels)
        )

    def env(self) -> dict[str, str]:
        """The variables a worker needs besides REDIS_URL."""
        env = {"REDIS_URL": self.url, "REDIS_SENTINEL_MASTER": self.master}
        if self.sentinel_password:
            env["REDIS_SENTINEL_PASSWORD"] = self.sentinel_password
        return env

    def client(self, service: Service) -> redis.Redis:
        """A direct client of one server (not through Sentinel)."""
        return redis.Redis(port=service.port, password=self.password, socket_timeout=2)

    def sentinel_client(self, sentinel: Service) -> redis.Redis:
        return redis.Redis(port=sentinel.port, password=self.sentinel_password, socket_timeout=2)

    def primary_port(self) -> int | None:
        """The primary's port as the first sentinel that answers names it."""
        for sentinel in self.sentinels:
            if sentinel.process.poll() is not None:
                continue
            try:
                answer: Any = self.sentinel_client(sentinel).sentinel_get_master_addr_by_name(
                    self.master
                )
            except redis.RedisError:
                continue
            if answer:
                return int(answer[1])
        return None

    def primary(self) -> Service:
        """The current primary (without sentinels: the first server, which never changes)."""
        port = self.primary_port() if self.sentinels else self.servers[0].port
        (found,) = [s for s in self.servers if s.port == port]
        return found

    def replicas_seen(self, sentinel: Service) -> int:
        """Replicas this sentinel knows in a good state."""
        replicas: Any = self.sentinel_client(sentinel).sentinel_slaves(self.master)
        return sum(1 for r in replicas if "s_down" not in r["flags"] and r["is_slave"])

    def ready(self) -> bool:
        """Every sentinel sees every replica and every other sentinel: a failover can happen."""
        try:
            for sentinel in self.sentinels:
                others: Any = self.sentinel_client(sentinel).sentinel_sentinels(self.master)
                if len(others) < len(self.sentinels) - 1:
                    return False
                if self.replicas_seen(sentinel) < len(self.servers) - 1:
                    return False
        except redis.RedisError:
            return False
        return True

    def wait_ready(self, timeout: float = 60) -> None:
        wait_for(self.synced, timeout=timeout, interval=0.1, what="replicas to be in sync")
        wait_for(self.ready, timeout=timeout, interval=0.1, what="sentinels to see every node")

    def synced(self) -> bool:
        """Every replica's link to the primary is up (its first sync is done)."""
        try:
            links = [self.client(s).info("replication") for s in self.servers[1:]]
        except redis.RedisError:
            return False
        return all(link.get("master_link_status") == "up" for link in links)

    def kill(self, service: Service) -> None:
        """SIGKILL one server or sentinel: no shutdown, no last write to its files."""
        os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait(10)

    def start_again(self, service: Service) -> None:
        """Start a killed server on its port with its files; Sentinel makes it a replica."""
        argv = [str(arg) for arg in service.process.args]  # type: ignore[union-attr]
        log = service.log_path.open("ab")
        service.process = subprocess.Popen(
            argv, cwd=service.workdir, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        wait_for(lambda: self._pings(service), timeout=STARTUP_TIMEOUT_S, what="redis back")

    def _pings(self, service: Service) -> bool:
        try:
            return bool(self.client(service).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        for service in [*self.sentinels, *self.servers]:
            service.stop()


def _binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (`make test` and `make demo` install it)")
    return binary


def _up(probe: Callable[[Service], redis.Redis], service: Service) -> bool:
    """The process answers a ping, or has exited (the caller looks at which)."""
    if service.process.poll() is not None:
        return True
    try:
        return bool(probe(service).ping())
    except redis.RedisError:
        return False


def _start(group: SentinelGroup, name: str, lines: list[str], *, sentinel: bool) -> Service:
    last: Exception | None = None
    for _ in range(3):  # a free port can be taken between the probe and the bind
        port = free_port()
        data = group.workdir / f"{name}-{port}"
        data.mkdir(parents=True, exist_ok=True)
        conf = data / f"{name}.conf"
        conf.write_text("\n".join([f"port {port}", "bind 127.0.0.1", f"dir {data}", *lines]) + "\n")
        conf.chmod(0o600)
        argv = [_binary(), str(conf), *(["--sentinel"] if sentinel else [])]
        process, log = spawn(f"{name}-{port}", argv, data)
        service = Service(name, process, f"redis://127.0.0.1:{port}", port, data, log)
        probe = group.sentinel_client if sentinel else group.client
        try:
            wait_for(lambda: _up(probe, service), STARTUP_TIMEOUT_S, what=name)  # noqa: B023
        except TimeoutError as error:
            service.stop()
            last = error
            continue
        if process.poll() is None:
            return service
        last = RuntimeError(f"{name} exited: {service.log()[-500:]}")
    raise RuntimeError(f"could not start {name}: {last}")


def start_sentinel_group(
    workdir: Path,
    *,
    replicas: int = 1,
    sentinels: int = 3,
    password: str | None = None,
    sentinel_password: str | None = None,
    master: str = MASTER_NAME,
    min_replicas_to_write: int = 0,
) -> SentinelGroup:
    """Start the servers and sentinels (quorum: a majority) and wait until they see each other.

    ``min_replicas_to_write``: a primary refuses writes while fewer replicas than this
    acknowledged within ``MIN_REPLICAS_MAX_LAG_S`` (a cut-off old primary stops taking
    writes that its promoted replica will never have).
    """
    group = SentinelGroup(workdir, master, password, sentinel_password, sentinels // 2 + 1)
    auth = [f"requirepass {password}", f"masterauth {password}"] if password else []
    # As production should run it: an append-only file synced every second, no eviction;
    # and a replica's full sync starts at once (the default waits 5 s for more replicas).
    server = ["appendonly yes", "appendfsync everysec", "save \"\"",
              "maxmemory-policy noeviction", "repl-diskless-sync-delay 0", *auth]  # fmt: skip
    if min_replicas_to_write:
        server += [f"min-replicas-to-write {min_replicas_to_write}",
                   f"min-replicas-max-lag {MIN_REPLICAS_MAX_LAG_S}"]  # fmt: skip
    try:
        primary = _start(group, "redis", server, sentinel=False)
        group.servers.append(primary)
        for _ in range(replicas):
            replica = [*server, f"replicaof 127.0.0.1 {primary.port}"]
            group.servers.append(_start(group, "redis", replica, sentinel=False))
        watch = [
            f"sentinel monitor {master} 127.0.0.1 {primary.port} {group.quorum}",
            f"sentinel down-after-milliseconds {master} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {master} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {master} 1",
        ]
        if password:
            watch.append(f"sentinel auth-pass {master} {password}")
        if sentinel_password:
            watch += [
                f"requirepass {sentinel_password}",
                f"sentinel sentinel-pass {sentinel_password}",
            ]
        for _ in range(sentinels):
            group.sentinels.append(_start(group, "sentinel", watch, sentinel=True))
        group.wait_ready()
    except BaseException:
        group.stop()
        raise
    return group


def wait_promoted(group: SentinelGroup, old_port: int, timeout: float = 60) -> float:
    """Wait until the sentinels name a new primary and it takes writes; seconds waited."""
    started = time.monotonic()

    def promoted() -> bool:
        port = group.primary_port()
        if port is None or port == old_port:
            return False
        try:
            (new,) = [s for s in group.servers if s.port == port]
            return group.client(new).info("replication")["role"] == "master"
        except (redis.RedisError, ValueError):
            return False

    wait_for(promoted, timeout=timeout, interval=0.05, what="a replica to be promoted")
    return time.monotonic() - started
