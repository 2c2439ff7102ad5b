"""The whole system on one machine: private Redis, S3, sandbox, workers, beat and Flower.

S3 is SeaweedFS (a real server that checks signatures) or, with ``s3="moto"``,
moto's server.

Every process runs in its own session on a free loopback port, logs to a file
in the work directory, and is stopped by :meth:`LocalStack.stop`, whatever
happened before.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import requests

from infra.local_services import (
    Service,
    free_port,
    spawn,
    start_redis,
    start_s3,
    start_sandbox,
    wait_for,
)
from infra.seaweedfs import start_seaweedfs

FLOWER_USER = "demo"
CLIENT_ID = "mkto-bulk-demo"
# Two workers as a small deployment would run them: one splits, one talks to Marketo.
WORKERS = {"split": ("celery,mkto_split", 1), "marketo": ("mkto_marketo,mkto_poll", 2)}
STOP_TIMEOUT_S = 20.0
S3_SERVERS = ("seaweedfs", "moto")


@dataclass
class LocalStack:
    """Handles on every process the demo started, and the environment they share."""

    workdir: Path
    realistic: bool = True
    s3: str = "seaweedfs"
    services: list[Service] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    flower_url: str = ""
    flower_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    s3_url: str = ""

    def start(self) -> None:
        redis = self._keep(start_redis(self.workdir, appendonly=True))
        # Secrets per run: only the services and the workers ever see them.
        s3_key, s3_secret = "mkto-bulk-demo", secrets.token_urlsafe(24)
        if self.s3 == "moto":
            s3 = self._keep(start_s3(self.workdir))
        else:
            s3 = self._keep(start_seaweedfs(self.workdir, access_key=s3_key, secret_key=s3_secret))
        secret = secrets.token_urlsafe(24)
        speed = ["--realistic"] if self.realistic else []
        sandbox = self._keep(
            start_sandbox(self.workdir, *speed, client_id=CLIENT_ID, client_secret=secret)
        )
        self.s3_url = s3.url
        self.env = {
            "REDIS_URL": redis.url,
            "MARKETO_REST_URL": sandbox.url,
            "MARKETO_CLIENT_ID": CLIENT_ID,
            "MARKETO_CLIENT_SECRET": secret,
            "S3_ENDPOINT_URL": s3.url,
            "AWS_ACCESS_KEY_ID": s3_key,
            "AWS_SECRET_ACCESS_KEY": s3_secret,
            "AWS_DEFAULT_REGION": "us-east-1",
            "STAGING_URI": "s3://mkto-bulk/loads",
            "PYTHONUNBUFFERED": "1",
        }
        if not self.realistic:  # the sandbox imports in a blink: poll like the tests do
            self.env.update(POLL_MIN_S="0.2", POLL_MAX_S="1.5")
        for name, (queues, concurrency) in WORKERS.items():
            self._celery(
                f"worker-{name}",
                "worker", "-Q", queues, "-c", str(concurrency), "-n", f"{name}@%h",
                "--without-mingle", "--without-gossip", "-l", "info",
            )  # fmt: skip
        self._celery("beat", "beat", "-l", "info")
        port = free_port()
        self.flower_url = f"http://127.0.0.1:{port}"
        self._celery(
            "flower", "flower", "--address=127.0.0.1", f"--port={port}",
            extra_env={"FLOWER_BASIC_AUTH": f"{FLOWER_USER}:{self.flower_password}"},
        )  # fmt: skip
        wait_for(self._flower_up, timeout=60, interval=0.2, what="Flower to answer")
        wait_for(self._workers_up, timeout=60, interval=0.5, what="both workers to answer")

    def _keep(self, service: Service) -> Service:
        self.services.append(service)
        return service

    def _celery(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> None:
        argv = [sys.executable, "-m", "celery", "-A", "workers", *args]
        process, _ = spawn(name, argv, self.workdir, env={**self.env, **(extra_env or {})})
        self.processes.append(process)

    def flower(self, path: str) -> requests.Response:
        auth = (FLOWER_USER, self.flower_password)
        return requests.get(self.flower_url + path, auth=auth, timeout=5)

    def _flower_up(self) -> bool:
        self._check_alive()
        try:
            return self.flower("/healthcheck").text == "OK"
        except requests.RequestException:
            return False

    def _workers_up(self) -> bool:
        self._check_alive()
        try:
            return len(self.flower("/api/workers?refresh=1").json()) >= len(WORKERS)
        except (requests.RequestException, ValueError):
            return False

    def _check_alive(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                command = " ".join(map(str, process.args))  # type: ignore[arg-type]
                raise RuntimeError(f"{command} exited early; its log is in {self.workdir}")

    def stop(self) -> None:
        """Stop the workers, beat and Flower (warm shutdown first), then the services."""
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT_S)
        self.processes.clear()
        for service in reversed(self.services):
            service.stop()
        self.services.clear()
