"""The project's foundation: settings errors, the worker, the CLI and the test services."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.services import Service, wait_for

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-value-that-must-not-leak"


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETO_", "REDIS_"))}
    env.update(overrides)
    return env


def _run_worker(env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "celery", "-A", "workers", "worker", "--pool", "solo"]
    return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_a_bad_redis_url_stops_the_worker_with_one_line_naming_it() -> None:
    result = _run_worker(_env(REDIS_URL="localhost:6379", MARKETO_CLIENT_SECRET=SECRET))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "mkto-bulk: invalid settings: REDIS_URL must look like redis://host:port/db "
        "(or rediss://, unix://, sentinel://host:port;sentinel://host2:port)"
    ]
    assert SECRET not in result.stderr + result.stdout


def test_a_missing_client_secret_stops_the_worker_with_one_line_naming_it() -> None:
    result = _run_worker(_env(REDIS_URL="redis://127.0.0.1:1/0"))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "mkto-bulk: invalid settings: MARKETO_CLIENT_SECRET is required but not set"
    ]


def test_several_bad_settings_are_listed_together_without_their_values() -> None:
    from workers.errors import SettingsError
    from workers.settings import load_settings

    bad = {
        "MARKETO_RATE_LIMIT_CALLS": "500",
        "MAX_OUTSTANDING_JOBS": "11",
        "MARKETO_CLIENT_SECRET": SECRET,
    }
    saved = {k: os.environ.get(k) for k in bad}
    os.environ.update(bad)
    try:
        with pytest.raises(SettingsError) as caught:
            load_settings(require_marketo=True)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    message = str(caught.value)
    assert "MARKETO_RATE_LIMIT_CALLS" in message and "MAX_OUTSTANDING_JOBS" in message
    assert "\n" not in message and SECRET not in message


@pytest.mark.parametrize("staging", ["s3://mkto-bulk//loads", "s3://mkto-bulk/loads/./x"])
def test_a_staging_prefix_s3_servers_rename_or_refuse_stops_the_worker_at_start(
    staging: str,
) -> None:
    # SeaweedFS stores "a//b" as "a/b" and answers 400 to every key with a "." segment: a
    # worker with such a prefix would fail each load at its first chunk.
    result = _run_worker(_env(STAGING_URI=staging, MARKETO_CLIENT_SECRET=SECRET))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "mkto-bulk: invalid settings: STAGING_URI must not have an empty, '.' or '..' segment "
        "in its prefix: S3-compatible servers rename or refuse such keys"
    ]


def test_the_worker_connects_to_redis_from_redis_url_and_answers_a_ping(
    redis_service: Service, tmp_path: Path
) -> None:
    env = _env(REDIS_URL=redis_service.url, MARKETO_CLIENT_SECRET=SECRET)
    argv = [sys.executable, "-m", "celery", "-A", "workers", "worker", "--pool", "solo",
            "-n", "foundation@%h", "--without-mingle", "--without-gossip"]  # fmt: skip
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        from celery import Celery

        probe = Celery(broker=redis_service.url)
        replies: list[dict[str, object]] = []

        def answered() -> bool:
            replies[:] = probe.control.ping(timeout=0.5) or []
            return bool(replies)

        wait_for(answered, timeout=60, what="the worker to answer a ping")
        assert any(name.startswith("foundation@") for reply in replies for name in reply)
        clients = redis.Redis.from_url(redis_service.url).client_list()
        assert clients, "the worker holds connections to the test redis"
    finally:
        worker.terminate()
        worker.wait(30)
    logged = (tmp_path / "worker.log").read_text()
    assert SECRET not in logged


def test_help_lists_the_commands_without_importing_heavy_libraries() -> None:
    probe = (
        "import sys\n"
        "from workers.cli import cli\n"
        "try:\n"
        "    cli(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('boto3', 'botocore', 'celery', 'kombu', 'pydantic', 'redis',\n"
        "               'requests', 'werkzeug') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "sandbox" in result.stdout and "split" in result.stdout
    assert "HEAVY=\n" in result.stdout + "\n", result.stdout


def test_the_console_script_is_installed_and_answers_help() -> None:
    script = Path(sys.executable).with_name("mkto-bulk")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    assert "Load S3 datasets into Marketo" in result.stdout


def test_the_private_redis_is_not_the_machine_default(redis_service: Service) -> None:
    assert redis_service.port != 6379
    assert redis.Redis.from_url(redis_service.url).ping()


@pytest.mark.s3_endpoints
def test_the_s3_endpoint_speaks_s3_over_http(
    s3_service: Service, s3_client: Any, bucket: str
) -> None:
    assert s3_client.meta.endpoint_url == s3_service.url
    s3_client.put_object(Bucket=bucket, Key="a/b.csv", Body=b"email\nx@example.com\n")
    body = s3_client.get_object(Bucket=bucket, Key="a/b.csv")["Body"].read()
    assert body == b"email\nx@example.com\n"


def test_the_console_script_starts_the_sandbox_and_it_answers_identity(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("mkto-bulk")
    argv = [str(script), "sandbox", "--port", "0", "--client-id", "cid", "--client-secret", "cs"]
    log_path = tmp_path / "sandbox.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        url: list[str] = []

        def listening() -> bool:
            for line in log_path.read_text().splitlines():
                if "listening on http://" in line:
                    url.append(line.split("listening on ", 1)[1].strip())
                    return True
            return process.poll() is not None

        wait_for(listening, timeout=20, what="the sandbox to listen")
        assert url, log_path.read_text()
        import requests

        answer = requests.get(
            url[0] + "/identity/oauth/token",
            params={"grant_type": "client_credentials", "client_id": "cid", "client_secret": "cs"},
            timeout=5,
        ).json()
        assert answer["token_type"] == "bearer" and answer["expires_in"] > 0
    finally:
        process.terminate()
        process.wait(10)


def test_beat_and_flower_need_no_marketo_secret_but_workers_do(
    redis_service: Service, tmp_path: Path
) -> None:
    """Only processes that call Marketo are given (and require) its secret."""
    env = _env(REDIS_URL=redis_service.url, RECONCILE_INTERVAL_S="1")
    argv = [sys.executable, "-m", "celery", "-A", "workers", "beat", "-l", "info"]
    log_path = tmp_path / "beat.log"
    with log_path.open("wb") as log:
        beat = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:

        def sent_the_reconciler() -> bool:
            assert beat.poll() is None, log_path.read_text(errors="replace")
            return "Sending due task mkto-bulk-reconcile" in log_path.read_text(errors="replace")

        wait_for(sent_the_reconciler, timeout=60, what="beat to send the reconciler sweep")
    finally:
        beat.terminate()
        beat.wait(30)
    inspect = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "workers", "inspect", "ping", "-t", "0.5"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "MARKETO_CLIENT_SECRET" not in inspect.stderr + inspect.stdout
    assert "No nodes replied" in inspect.stderr + inspect.stdout
    assert "MARKETO_CLIENT_SECRET is required" in _run_worker(env).stderr
