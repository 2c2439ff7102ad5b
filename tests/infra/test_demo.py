"""`make demo`: the whole job on one machine, Flower until Ctrl-C, then nothing left running."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from tests.services import wait_for

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


def test_the_demo_loads_every_lead_reports_counts_that_add_up_and_stops_everything_on_ctrl_c() -> (
    None
):
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.demo", "--leads", "60000", "--parts", "3", "--fast"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        wait_for(
            lambda: any("press Ctrl-C" in line for line in lines) or process.poll() is not None,
            timeout=180, interval=0.2, what="the demo's load to end",
        )  # fmt: skip
        output = "".join(lines)
        assert process.poll() is None, output
        flower = re.search(r"Flower: (http://\S+)\s+user (\S+)\s+password (\S+)", output)
        assert flower, output
        url, user, password = flower.groups()
        # Flower stays up behind basic auth until Ctrl-C, showing the load's tasks.
        assert requests.get(url + "/api/tasks", timeout=5).status_code == 401
        tasks = requests.get(url + "/api/tasks", auth=(user, password), timeout=5).json()
        assert {"mkto_bulk.start_load", "mkto_bulk.submit_chunk"} <= {
            t["name"] for t in tasks.values()
        }
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
        reader.join(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    output = "".join(lines)
    assert "starting Redis, S3 (seaweedfs)," in output  # a real S3 server by default
    assert "enqueued mkto_bulk.start_load by name" in output
    assert re.search(r"load \S+ succeeded_with_row_errors", output), output
    assert "rows read 60,000 = submitted" in output and ": yes" in output, output
    assert "all found" in output, output
    assert re.search(
        r"chunk \d+ failures: s3://mkto-bulk/loads/\S+/failures/chunk-\d+\.csv", output
    )
    assert re.search(
        r"chunk \d+ warnings: s3://mkto-bulk/loads/\S+/warnings/chunk-\d+\.csv", output
    )
    assert "rejected records: s3://mkto-bulk/loads/" in output
    assert "Flower saw" in output
    assert not _port_open(url), "Flower still answers after the demo stopped"
    workdir = re.search(r"\(logs: (\S+)\)", output)
    assert workdir, output
    left = subprocess.run(["pgrep", "-f", workdir.group(1)], capture_output=True, text=True)
    assert left.stdout == "", f"processes left running: {left.stdout}"
    assert not Path(workdir.group(1)).exists()
