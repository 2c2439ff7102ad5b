"""What the CLI and the Python function say about local paths, unknown loads and empty settings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tests.e2e.test_cli_load import cli
from tests.infra_helpers import COMPOSE_FILE, ENV_EXAMPLE, K8S
from tests.pipeline_helpers import Pipeline, lead_rows, put_dataset

HEADER = "email,firstName,lastName,leadScore\n"


def test_the_cli_refuses_a_local_path_and_says_how_to_allow_one(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    local = tmp_path / "leads.csv"
    local.write_text(HEADER + "".join(lead_rows(3)))

    result = cli(pipeline, "load", str(local), "--object", "leads")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f'Error: invalid load request: source: "{local}" is a local path; workers read only '
        "s3:// sources (set ALLOW_LOCAL_SOURCES=true to allow local paths, for development)"
    )
    assert pipeline.redis.llen("celery") == 0, "nothing was enqueued"


def test_the_cli_refuses_an_unknown_encoding_naming_the_option_field(pipeline: Pipeline) -> None:
    result = cli(
        pipeline, "load", "s3://etl/leads.csv", "--object", "leads", "--encoding", "klingon"
    )

    assert result.returncode == 2
    assert result.stderr.strip() == (
        'Error: invalid load request: encoding: unknown encoding "klingon" '
        "(a Python codec name such as latin-1, cp1252 or utf-16)"
    )
    assert pipeline.redis.llen("celery") == 0


@pytest.mark.serial
def test_wait_for_load_on_an_unknown_id_says_there_is_no_such_load(redis_url: str) -> None:
    from workers.api import LoadNotFound, wait_for_load

    started = time.monotonic()
    with pytest.raises(LoadNotFound) as caught:
        wait_for_load("no-such-load", timeout=3, redis_url=redis_url)

    assert str(caught.value) == "no such load no-such-load"
    assert time.monotonic() - started < 2, "said at once, not after the timeout"


def test_wait_for_load_on_a_start_no_worker_took_yet_keeps_waiting(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    from workers.api import LoadWaitTimeout, start_load, wait_for_load

    source = put_dataset(s3_client, bucket, "in/queued.csv", HEADER + "".join(lead_rows(2)))
    load_id = start_load({"source": source, "object": "leads"}, redis_url=pipeline.redis_url)

    with pytest.raises(LoadWaitTimeout) as caught:
        wait_for_load(load_id, timeout=1.5, interval=0.2, redis_url=pipeline.redis_url)

    assert str(caught.value) == (
        f"load {load_id} is not finished after 1.5 s; it goes on "
        "(state: not started by a worker yet)"
    )
    pipeline.start_worker("a", concurrency=1)
    status = wait_for_load(load_id, timeout=60, interval=0.2, redis_url=pipeline.redis_url)
    assert (status.state, status.rows_processed) == ("succeeded", 2)


def test_an_empty_schedule_file_setting_is_the_same_as_unset(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    from workers.cli import cli as mkto_bulk
    from workers.settings import load_settings

    monkeypatch.setenv("SCHEDULE_FILE", "")
    assert load_settings().schedule_file is None
    monkeypatch.setenv("SCHEDULE_FILE", "  ")
    assert load_settings().schedule_file is None

    listing = CliRunner().invoke(
        mkto_bulk, ["schedule", "list"], env={"SCHEDULE_FILE": "", "REDIS_URL": redis_url}
    )
    assert listing.exit_code == 0, listing.output
    assert listing.output.strip() == (
        "no scheduled loads (SCHEDULE_FILE is not set or has no [[load]] entries)"
    )


def test_deployments_keep_local_sources_off_and_callback_queues_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workers.errors import SettingsError
    from workers.settings import load_settings

    for path in [COMPOSE_FILE, ENV_EXAMPLE, *sorted(K8S.glob("*.yaml"))]:
        text = path.read_text()
        if "ALLOW_LOCAL_SOURCES" in text:
            assert "ALLOW_LOCAL_SOURCES: true" not in text.replace('"', ""), path
            assert "ALLOW_LOCAL_SOURCES=true" not in text, path
    for document in yaml.safe_load_all((K8S / "configmap.yaml").read_text()):
        data = (document or {}).get("data") or {}
        assert str(data.get("ALLOW_LOCAL_SOURCES", "false")).lower() == "false"
    assert load_settings().allow_local_sources is False

    monkeypatch.setenv("CALLBACK_QUEUES", "etl-done,mkto_marketo")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        'invalid settings: CALLBACK_QUEUES "mkto_marketo" is one of our own queues (celery, '
        "mkto_split, mkto_marketo, mkto_poll); name the ETL's own queue"
    )
