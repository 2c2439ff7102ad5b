"""Flower against real workers: behind basic auth, our tasks readable, and no secret in sight."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.pipeline_helpers import LOAD_STEPS, Pipeline, lead_rows
from tests.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
AUTH = ("user", "pass")
HEADER = "email,firstName,lastName,leadScore\n"


class Flower:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def get(self, path: str, auth: tuple[str, str] | None = AUTH) -> requests.Response:
        return requests.get(self.url + path, auth=auth, timeout=15)

    def json(self, path: str) -> Any:
        response = self.get(path)
        assert response.status_code == 200, (response.status_code, response.text[:500])
        return response.json()

    def tasks(self) -> dict[str, dict[str, Any]]:
        return dict(self.json("/api/tasks"))


@pytest.fixture
def flower(pipeline: Pipeline, tmp_path: Path) -> Iterator[Flower]:
    port = free_port()
    argv = [
        sys.executable, "-m", "celery", "-A", "workers", "flower", "--address=127.0.0.1",
        f"--port={port}", f"--basic-auth={AUTH[0]}:{AUTH[1]}",
    ]  # fmt: skip
    log_path = tmp_path / "flower.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, env=pipeline.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    running = Flower(f"http://127.0.0.1:{port}", process, log_path)

    def healthy() -> bool:
        if process.poll() is not None:
            return True
        try:
            return requests.get(running.url + "/healthcheck", timeout=1).text == "OK"
        except requests.RequestException:
            return False

    try:
        wait_for(healthy, timeout=30, interval=0.1, what="flower to answer")
        assert process.poll() is None, log_path.read_text(errors="replace")[-2000:]
        yield running
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_flower_shows_our_tasks_behind_basic_auth_without_secrets_or_tokens(
    pipeline: Pipeline, flower: Flower, s3_client: Any, bucket: str
) -> None:
    for path in ("/api/tasks", "/api/workers", "/api/task/types", "/workers", "/"):
        assert flower.get(path, auth=None).status_code == 401, path
        assert flower.get(path, auth=("user", "wrong")).status_code == 401, path

    pipeline.start_worker("a")

    def worker_seen_through_events() -> bool:
        workers = flower.json("/workers?json=1")["data"]
        return any(w["hostname"].startswith("a@") and w["status"] for w in workers)

    # Flower learns about tasks only from events it receives, so its receiver
    # must be listening (it has seen the worker's events) before the load starts.
    wait_for(worker_seen_through_events, timeout=30, interval=0.2, what="flower to see worker a")

    body = HEADER + "".join(lead_rows(200))
    s3_client.put_object(Bucket=bucket, Key="in/leads.csv", Body=body.encode())
    load_id = pipeline.start_load(source=f"s3://{bucket}/in/leads.csv", object="leads")
    load = pipeline.wait_until_finished(load_id, timeout=60)
    assert load["state"] == "succeeded", pipeline.logs()[-3000:]
    chunks = int(load["chunks_total"])
    assert chunks >= 2

    def all_events_arrived() -> bool:
        tasks = flower.tasks().values()
        seen = {t["name"] for t in tasks if t.get("state") == "SUCCESS"}
        submits = [t for t in tasks if t["name"] == "mkto_bulk.submit_chunk"]
        return seen >= LOAD_STEPS and len(submits) >= chunks

    wait_for(all_events_arrived, timeout=30, interval=0.2, what="flower to show the load's tasks")

    tasks = flower.tasks()
    names = {task["name"] for task in tasks.values()}
    assert names >= LOAD_STEPS, names
    submitted = set()
    for task in tasks.values():
        if task["name"] in ("mkto_bulk.submit_chunk", "mkto_bulk.collect_chunk"):
            args = ast.literal_eval(task["args"])
            assert args[0] == load_id and isinstance(args[1], int), task["args"]
            if task["name"] == "mkto_bulk.submit_chunk":
                submitted.add(args[1])
        if task["name"] in ("mkto_bulk.split_source", "mkto_bulk.finish_load"):
            assert ast.literal_eval(task["args"]) in ([load_id], (load_id,)), task["args"]
    assert submitted == set(range(chunks))
    start = next(t for t in tasks.values() if t["name"] == "mkto_bulk.start_load")
    assert "leads.csv" in start["kwargs"] and load_id in (start["result"] or "")

    cached = pipeline.redis.get(f"mkto:token:{SANDBOX_CLIENT_ID}")
    assert cached is not None, "the workers cached an access token"
    token = json.loads(cached)["token"]
    assert token and len(token) >= 8

    shown = {
        "tasks": flower.get("/api/tasks").text,
        "workers": flower.get("/api/workers?refresh=1").text,
        "task info": "".join(flower.get(f"/api/task/info/{tid}").text for tid in tasks),
    }
    for where, text in shown.items():
        assert SANDBOX_CLIENT_SECRET not in text, f"client secret in Flower's {where}"
        assert token not in text, f"access token in Flower's {where}"
    for task in tasks.values():
        for field in ("args", "kwargs", "result", "exception", "traceback"):
            value = str(task.get(field) or "")
            assert SANDBOX_CLIENT_SECRET not in value and token not in value, (task["name"], field)
    assert SANDBOX_CLIENT_SECRET not in flower.log.read_text(errors="replace")
