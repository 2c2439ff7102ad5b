"""Private local services on free loopback ports: Redis, an S3 endpoint, the Marketo sandbox.

The tests, the benchmarks and ``make demo`` start the same real processes
through these helpers. Nothing here touches a service it did not start (no
6379, no shared buckets): every process is private to its caller and is
stopped by it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> None:
    """Poll ``condition`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        time.sleep(interval)


@dataclass
class Service:
    """A child process serving on ``url``, stopped by ``stop()``."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    port: int
    workdir: Path
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


def spawn(
    name: str,
    argv: list[str],
    workdir: Path,
    env: dict[str, str] | None = None,
    *,
    without: tuple[str, ...] = (),
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start ``argv`` in its own session, logging to ``workdir/<name>.log``.

    The child gets this environment plus ``env``, less the variables whose
    names start with one of ``without``.
    """
    log_path = workdir / f"{name}.log"
    log = log_path.open("wb")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(without)}
    process = subprocess.Popen(
        argv,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**inherited, **(env or {})},
        start_new_session=True,
    )
    return process, log_path


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return int(response.status) < 500
    except urllib.error.HTTPError as error:
        return error.code < 500
    except OSError:
        return False


def _start_with_retries(start: Callable[[int], Service], attempts: int = 3) -> Service:
    """A free port can be taken between our probe and the child's bind: try another."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return start(free_port())
        except (TimeoutError, RuntimeError) as error:
            last = error
    raise RuntimeError(f"could not start service: {last}")


def start_redis(workdir: Path, *, appendonly: bool = False) -> Service:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (`make test` and `make demo` install it)")

    def start(port: int) -> Service:
        data = workdir / f"redis-{port}"
        data.mkdir(parents=True, exist_ok=True)
        argv = [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
            "--save", "", "--appendonly", "yes" if appendonly else "no",
            "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        process, log = spawn(f"redis-{port}", argv, workdir)
        service = Service("redis", process, f"redis://127.0.0.1:{port}/0", port, data, log)
        try:
            wait_for(lambda: _redis_ping(port) or process.poll() is not None, STARTUP_TIMEOUT_S,
                     what="redis-server")  # fmt: skip
        except TimeoutError:
            service.stop()
            raise
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {service.log()[-500:]}")
        return service

    return _start_with_retries(start)


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_s3(workdir: Path) -> Service:
    """moto in server mode: a real S3 endpoint over HTTP on loopback."""

    def start(port: int) -> Service:
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        process, log = spawn(f"s3-{port}", argv, workdir)
        service = Service("s3", process, f"http://127.0.0.1:{port}", port, workdir, log)
        try:
            wait_for(lambda: _http_ok(service.url + "/moto-api/") or process.poll() is not None,
                     STARTUP_TIMEOUT_S, what="moto server")  # fmt: skip
        except TimeoutError:
            service.stop()
            raise
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited: {service.log()[-500:]}")
        return service

    return _start_with_retries(start)


def start_sandbox(workdir: Path, *extra_args: str, client_id: str, client_secret: str) -> Service:
    """The Marketo sandbox as its own process; it prints its URL once it accepts calls.

    The secret travels in the environment, not on the command line, where
    ``ps`` would show it.
    """
    argv = [
        sys.executable, "-m", "infra.sandbox", "--host", "127.0.0.1", "--port", "0",
        "--client-id", client_id, *extra_args,
    ]  # fmt: skip
    env = {"PYTHONUNBUFFERED": "1", "SANDBOX_CLIENT_SECRET": client_secret}
    process, log = spawn("sandbox", argv, workdir, env=env)
    service = Service("sandbox", process, "", 0, workdir, log)

    def announced() -> bool:
        for line in service.log().splitlines():
            if "listening on http://" in line:
                service.url = line.split("listening on ", 1)[1].strip().rstrip("/")
                service.port = int(service.url.rsplit(":", 1)[1])
                return True
        return process.poll() is not None

    wait_for(announced, STARTUP_TIMEOUT_S, what="sandbox to listen")
    if process.poll() is not None:
        raise RuntimeError(f"sandbox exited: {service.log()[-2000:]}")
    service.extra.update(client_id=client_id, client_secret=client_secret)
    return service


@contextlib.contextmanager
def running(service: Service) -> Iterator[Service]:
    try:
        yield service
    finally:
        service.stop()


def session_tmpdir(prefix: str = "mkto-bulk-tests-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
