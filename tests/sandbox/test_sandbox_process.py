"""The sandbox as a process: startup time, the listening line, flags, env, config, SIGTERM."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from infra.sandbox.__main__ import main
from tests.sandbox_helpers import start_process

LINE = re.compile(r"^mkto-bulk sandbox listening on http://127\.0\.0\.1:(\d+)\n$")


def _token(url: str, client_id: str, secret: str) -> requests.Response:
    params = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return requests.get(url + "/identity/oauth/token", params=params, timeout=10)


def test_starts_fast_prints_one_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    process, line, elapsed = start_process(tmp_path, ["--host", "127.0.0.1"])
    try:
        print(f"sandbox start to listening line: {elapsed:.3f}s")
        assert LINE.match(line), line
        assert elapsed < 5.0
        url = line.split("listening on ", 1)[1].strip()
        assert _token(url, "sandbox-client", "sandbox-secret").status_code == 200
    finally:
        process.terminate()
        assert process.wait(10) == 0
    assert process.stdout is not None
    assert process.stdout.read() == b""  # exactly one line on stdout


def test_env_vars_config_file_and_realistic(tmp_path: Path) -> None:
    config = tmp_path / "sandbox.json"
    config.write_text(json.dumps({"settings": {"daily_quota": 123, "rate_limit_calls": 50}}))
    env = {"SANDBOX_CLIENT_ID": "env-id", "SANDBOX_CLIENT_SECRET": "env-secret"}
    process, line, _ = start_process(
        tmp_path, ["--config", str(config), "--realistic", "--token-ttl", "60"], env
    )
    try:
        url = line.split("listening on ", 1)[1].strip()
        assert _token(url, "env-id", "env-secret").json()["expires_in"] == 60
        assert _token(url, "sandbox-client", "sandbox-secret").status_code == 401
        settings = requests.get(url + "/_sandbox/config", timeout=10).json()
        assert settings["daily_quota"] == 123
        assert settings["rate_limit_calls"] == 50
        assert (settings["import_overhead_s"], settings["import_rows_per_s"]) == (5.0, 2000.0)
        requests.patch(url + "/_sandbox/config", json={"daily_quota": 5}, timeout=10)
        requests.post(url + "/_sandbox/reset", json={}, timeout=10)
        assert requests.get(url + "/_sandbox/config", timeout=10).json()["daily_quota"] == 123
    finally:
        process.terminate()
        process.wait(10)
    log = (tmp_path / "sandbox-extra.log").read_text()
    assert "env-secret" not in log


def test_bad_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"settings": {"no_such_setting": 1}}))
    result = subprocess.run(
        [sys.executable, "-m", "infra.sandbox", "--port", "0", "--config", str(config)],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert b"no_such_setting" in result.stderr


def test_help_documents_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for expected in ("--client-id", "sandbox-client", "--port", "8080", "127.0.0.1",
                     "--realistic", "SANDBOX_CLIENT_SECRET", "--config"):  # fmt: skip
        assert expected in text


def test_mkto_bulk_sandbox_help_names_the_command_and_states_each_default_once() -> None:
    script = Path(sys.executable).with_name("mkto-bulk")
    result = subprocess.run(
        [str(script), "sandbox", "--help"], capture_output=True, text=True, timeout=30, check=True
    )
    text = " ".join(result.stdout.split())  # argparse wraps lines at the terminal width
    assert text.startswith("usage: mkto-bulk sandbox [-h] [--host HOST]")
    assert "python -m infra.sandbox" not in text
    assert "token lifetime in seconds (default 3600) --realistic" in text
    assert "upload limit, HTTP 413 above (default 10000000) --rate-limit-calls" in text
    assert "(default: None)" not in text
    assert "(default: False)" not in text
    # Options whose default lives in the parser still show it.
    assert "bind address (SANDBOX_HOST) (default: 127.0.0.1)" in text
    assert "port, 0 for a free one (SANDBOX_PORT) (default: 8080)" in text


def test_a_bad_flag_names_the_command_the_user_typed() -> None:
    script = Path(sys.executable).with_name("mkto-bulk")
    result = subprocess.run(
        [str(script), "sandbox", "--no-such-flag"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "mkto-bulk sandbox: error: unrecognized arguments: --no-such-flag"
    )
