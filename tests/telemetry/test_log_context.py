"""What a JSON log line says: the load, chunk and batch in force as fields, never guessed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from workers.errors import SettingsError
from workers.settings import LogFormat, Settings, load_settings
from workers.telemetry.context import bind, current, log_context, task_fields
from workers.telemetry.logs import use_json


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    logger = logging.getLogger("tests.telemetry.json")
    handler = logging.StreamHandler(out)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    use_json(logger)
    yield logger, out
    logger.removeHandler(handler)


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_carries_the_fields_in_force_and_loses_them_when_the_block_ends(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = json_log
    with log_context(load_id="L1", chunk=3):
        bind(batch_id="1001")
        logger.info("job %s", "Complete")
        logger.info("given", extra={"chunk": 7})  # a call's own field is kept as given
    logger.info("after")

    inside, given, after = _lines(out)
    assert inside["message"] == "job Complete"
    assert (inside["load_id"], inside["chunk"], inside["batch_id"]) == ("L1", 3, "1001")
    assert inside["level"] == "INFO" and inside["logger"] == "tests.telemetry.json"
    assert inside["time"].endswith("+00:00")
    assert given["chunk"] == 7
    assert not {"load_id", "chunk", "batch_id", "task_id"} & after.keys()
    assert current() == {}


def test_an_exception_is_one_line_with_its_traceback(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = json_log
    try:
        raise ValueError("bad row")
    except ValueError:
        logger.exception("chunk failed")
    (line,) = out.getvalue().splitlines()
    assert "ValueError: bad row" in json.loads(line)["exc_info"]


class _Task:
    name = "tests.chunk_step"

    def run(self, load_id: str, index: int, token: str) -> None:
        return None


def test_a_tasks_load_and_chunk_come_from_its_load_id_and_index_arguments() -> None:
    assert task_fields(_Task(), ("L1", 4, "tok"), {}) == {"load_id": "L1", "chunk": 4}
    assert task_fields(_Task(), ("L1",), {"index": 0, "token": "t"}) == {
        "load_id": "L1",
        "chunk": 0,
    }
    assert task_fields(_Task(), (), {}) == {}


def test_log_format_is_text_unless_set_and_a_wrong_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert Settings().log_format is LogFormat.TEXT
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    assert load_settings().log_format is LogFormat.JSON
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="LOG_FORMAT"):
        load_settings()


def test_a_step_run_outside_any_task_leaves_no_fields_behind() -> None:
    bind(load_id="L1", batch_id="1001")
    assert current() == {}
