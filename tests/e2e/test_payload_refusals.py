"""Payloads an ETL (or a hostile user) sends by name: a real worker refuses them, naming the field.

Every refusal leaves nothing behind: no load in the ledger, nothing staged in
S3, no job or record in the sandbox.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline_helpers import Pipeline, lead_rows, put_dataset
from tests.sandbox_helpers import admin
from tests.services import Service, wait_for
from workers.errors import InputError

HEADER = "email,firstName,lastName,leadScore\n"
SOURCE = "s3://etl-out/leads.csv"
INVALID = "invalid load request: "


def refusal(pipeline: Pipeline, payload: dict[str, Any]) -> str:
    """The worker's refusal of ``payload``, as the ETL's ``result.get()`` raises it."""
    result = pipeline.celery().send_task("mkto_bulk.start_load", kwargs=payload)
    with pytest.raises(InputError) as caught:
        result.get(timeout=60)
    return str(caught.value)


def assert_nothing_recorded(pipeline: Pipeline, s3_client: Any, sandbox: Service) -> None:
    assert pipeline.redis.zcard("mkto:loads") == 0
    assert pipeline.redis.keys("mkto:load:*") == []
    assert pipeline.redis.keys("mkto:idempotency*") == []
    staged = s3_client.list_objects_v2(Bucket=pipeline.bucket, Prefix="loads/")
    assert staged.get("KeyCount", 0) == 0
    assert admin(sandbox, "GET", "/_sandbox/jobs") == []
    assert admin(sandbox, "GET", "/_sandbox/stats")["records"]["leads"] == 0


def test_strings_that_cannot_be_sent_are_refused_naming_the_field_and_character(
    pipeline: Pipeline, s3_client: Any, sandbox: Service
) -> None:
    pipeline.start_worker("a", concurrency=1)
    lead = {"source": SOURCE, "object": "leads"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**lead, "partitionName": "\ud800"},
         "partitionName: contains a lone surrogate (\\ud800) at character 1"),
        ({**lead, "lookupField": "em\x00ail"},
         "lookupField: contains a control character (\\x00) at character 3"),
        ({**lead, "mapping": {"E-mail\udfff": "email"}},
         'mapping: column "E-mail\\udfff": contains a lone surrogate (\\udfff) at character 7'),
        ({**lead, "mapping": {"E-mail": "email\t"}},
         'mapping["E-mail"]: contains a control character (\\x09) at character 6'),
        ({**lead, "idempotencyKey": "nightly\n2026-11-30"},
         "idempotencyKey: contains a control character (\\x0a) at character 8"),
        ({**lead, "callback": "etl.done\x1b", "callbackQueue": "etl"},
         "callback: contains a control character (\\x1b) at character 9"),
        ({**lead, "source": "s3://etl-out/\ud83d.csv"},
         "source: contains a lone surrogate (\\ud83d) at character 14"),
        ({**lead, "\ud800": 1}, 'field name "\\ud800": contains a lone surrogate (\\ud800) at '
         "character 1"),
        ({**lead, "partitionName": "P" * 256},
         "partitionName: is 256 characters long (at most 255)"),
        ({**lead, "idempotencyKey": "k" * 201},
         "idempotencyKey: is 201 characters long (at most 200)"),
        ({**lead, "mapping": {"c" * 1025: "email"}},
         f'mapping: column "{"c" * 60}...": is 1,025 characters long (at most 1,024)'),
        ({**lead, "lookupField": ""}, "lookupField: must not be empty"),
    ]  # fmt: skip
    for payload, message in cases:
        assert refusal(pipeline, payload) == INVALID + message
    assert_nothing_recorded(pipeline, s3_client, sandbox)


def test_ids_are_whole_numbers_and_s3_uris_name_a_bucket_and_a_key(
    pipeline: Pipeline, s3_client: Any, sandbox: Service
) -> None:
    pipeline.start_worker("a", concurrency=1)
    lead = {"source": SOURCE, "object": "leads"}
    members = {"source": SOURCE, "object": "programmembers", "programMemberStatus": "Registered"}
    example = "(write s3://bucket/key or s3://bucket/prefix/)"
    cases: list[tuple[dict[str, Any], str]] = [
        ({**lead, "listId": True}, "listId: Input should be a valid integer"),
        ({**lead, "listId": 42.0}, "listId: Input should be a valid integer"),
        ({**lead, "listId": "42"}, "listId: Input should be a valid integer"),
        ({**members, "programId": False}, "programId: Input should be a valid integer"),
        ({**lead, "listId": 2**31}, "listId: Input should be less than or equal to 2147483647"),
        ({**lead, "source": "s3://"}, f'source: "s3://" names no bucket {example}'),
        ({**lead, "source": "s3:///key.csv"},
         f'source: "s3:///key.csv" names no bucket {example}'),
        ({**lead, "source": "s3://etl-out"},
         f'source: "s3://etl-out" names no key or prefix {example}'),
        ({**lead, "source": "s3://etl-out/"},
         f'source: "s3://etl-out/" names no key or prefix {example}'),
        ({**lead, "source": "s3://ETL_out/k.csv"},
         'source: "ETL_out" is not a valid bucket name (3 to 63 lowercase letters, digits, '
         "'.' or '-', starting and ending with a letter or digit)"),
        ({**lead, "source": "s3://etl-out/" + "k" * 1025},
         "source: the key is longer than S3's 1,024 bytes"),
    ]  # fmt: skip
    for payload, message in cases:
        assert refusal(pipeline, payload) == INVALID + message
    assert_nothing_recorded(pipeline, s3_client, sandbox)


def test_a_worker_refuses_local_paths_unless_allow_local_sources_is_set(
    pipeline: Pipeline, s3_client: Any, sandbox: Service, tmp_path: Path
) -> None:
    planted = tmp_path / ".aws" / "credentials"
    planted.parent.mkdir()
    planted.write_text("email,firstName\naws_access_key_id@x.com,AKIAFAKE\n")
    pipeline.start_worker("a", concurrency=1)

    for source in ("/etc/passwd", str(planted), "./leads.csv", f"file://{planted}"):
        assert refusal(pipeline, {"source": source, "object": "leads"}) == (
            f'{INVALID}source: "{source}" is a local path; workers read only s3:// sources '
            "(set ALLOW_LOCAL_SOURCES=true to allow local paths, for development)"
        )
    assert_nothing_recorded(pipeline, s3_client, sandbox)
    assert "root:" not in pipeline.logs() and "AKIAFAKE" not in pipeline.logs()


def test_with_allow_local_sources_a_development_worker_loads_a_local_file(
    pipeline: Pipeline, sandbox: Service, tmp_path: Path
) -> None:
    local = tmp_path / "leads.csv"
    local.write_text(HEADER + "".join(lead_rows(7)))
    pipeline.env["ALLOW_LOCAL_SOURCES"] = "true"
    pipeline.start_worker("a", concurrency=1)

    load_id = pipeline.start_load(source=str(local), object="leads")

    assert pipeline.wait_until_finished(load_id)["state"] == "succeeded", pipeline.logs()[-2000:]
    assert admin(sandbox, "GET", "/_sandbox/stats")["records"]["leads"] == 7


def test_a_callback_may_not_name_our_tasks_celerys_or_our_queues(
    pipeline: Pipeline, s3_client: Any, sandbox: Service
) -> None:
    pipeline.start_worker("a", concurrency=1)
    lead = {"source": SOURCE, "object": "leads"}
    ours = "(celery, mkto_split, mkto_marketo, mkto_poll); name the ETL's own queue"
    cases: list[tuple[dict[str, Any], str]] = [
        ({**lead, "callback": "celery.backend_cleanup", "callbackQueue": "etl"},
         'callback: "celery.backend_cleanup" is a Celery built-in task (celery.*); '
         "name the ETL's own task"),
        ({**lead, "callback": "celery.accumulate", "callbackQueue": "etl"},
         'callback: "celery.accumulate" is a Celery built-in task (celery.*); '
         "name the ETL's own task"),
        ({**lead, "callback": "mkto_bulk.start_load", "callbackQueue": "etl"},
         'callback: "mkto_bulk.start_load" is one of our own tasks (mkto_bulk.*); '
         "name the ETL's own task"),
        ({**lead, "callback": "MKTO_BULK.reconcile", "callbackQueue": "etl"},
         'callback: "MKTO_BULK.reconcile" is one of our own tasks (mkto_bulk.*); '
         "name the ETL's own task"),
        ({**lead, "callback": "etl.load_finished"},
         "callbackQueue: is required with a callback (the ETL's own queue)"),
        ({**lead, "callbackQueue": "etl"}, "callbackQueue: only applies with a callback"),
        ({**lead, "callback": "etl.load_finished", "callbackQueue": "celery"},
         f'callbackQueue: "celery" is one of our own queues {ours}'),
        ({**lead, "callback": "etl.load_finished", "callbackQueue": "mkto_split"},
         f'callbackQueue: "mkto_split" is one of our own queues {ours}'),
        ({**lead, "callback": "etl.load_finished", "callbackQueue": "mkto:loads:active"},
         'callbackQueue: "mkto:loads:active" is not a queue name: 1 to 200 letters, digits, '
         "'_', '.' or '-', starting with a letter or digit"),
        ({**lead, "callback": "etl.load_finished", "callbackQueue": "unacked"},
         'callbackQueue: "unacked" is a name the broker uses for its own keys'),
    ]  # fmt: skip
    for payload, message in cases:
        assert refusal(pipeline, payload) == INVALID + message
    assert_nothing_recorded(pipeline, s3_client, sandbox)


def test_callback_queues_limits_callbacks_to_the_queues_it_names(
    pipeline: Pipeline, s3_client: Any
) -> None:
    pipeline.env["CALLBACK_QUEUES"] = "etl-done, etl-audit"
    pipeline.start_worker("a", concurrency=1)
    lead = {"source": SOURCE, "object": "leads", "callback": "etl.load_finished"}
    assert refusal(pipeline, {**lead, "callbackQueue": "elsewhere"}) == (
        f'{INVALID}callbackQueue: "elsewhere" is not in CALLBACK_QUEUES (etl-audit, etl-done)'
    )
    assert pipeline.redis.zcard("mkto:loads") == 0

    source = put_dataset(s3_client, pipeline.bucket, "in/cb.csv", HEADER + "".join(lead_rows(3)))
    load_id = pipeline.start_load(**{**lead, "source": source, "callbackQueue": "etl-done"})
    assert pipeline.wait_until_finished(load_id)["state"] == "succeeded"
    messages = [json.loads(raw) for raw in pipeline.redis.lrange("etl-done", 0, -1)]
    assert [m["headers"]["task"] for m in messages] == ["etl.load_finished"]
    _args, kwargs, _embed = json.loads(base64.b64decode(messages[0]["body"]))
    assert kwargs["report"]["load_id"] == load_id


def test_a_recorded_load_whose_callback_names_our_task_fails_and_sends_nothing(
    pipeline: Pipeline, s3_client: Any, sandbox: Service
) -> None:
    from workers.state.ledger import Ledger

    # A load recorded before these rules: a worker checks it again before it reads the source.
    source = put_dataset(s3_client, pipeline.bucket, "in/old.csv", HEADER + "".join(lead_rows(2)))
    params = {"source": source, "object": "leads", "format": "csv", "mapping": {},
              "callback": "mkto_bulk.reconcile", "callbackQueue": "mkto_poll"}  # fmt: skip
    staging = f"s3://{pipeline.bucket}/loads/old-load"
    Ledger(pipeline.redis).create_load("old-load", params, None, {"staging": staging})
    pipeline.start_worker("a", concurrency=1)
    pipeline.celery().send_task("mkto_bulk.split_source", args=("old-load",), queue="mkto_split")

    load = pipeline.wait_until_finished("old-load")
    assert load["state"] == "failed"
    assert load["error"] == (
        'invalid load request: callback: "mkto_bulk.reconcile" is one of our own tasks '
        '(mkto_bulk.*); name the ETL\'s own task; callbackQueue: "mkto_poll" is one of our own '
        "queues (celery, mkto_split, mkto_marketo, mkto_poll); name the ETL's own queue"
    )
    assert (load["rows_read"], load["chunks_total"]) == ("0", "0")
    assert admin(sandbox, "GET", "/_sandbox/jobs") == []
    assert "mkto_bulk.reconcile[" not in pipeline.logs(), "the reconciler was not run by it"


def test_the_worker_that_sends_a_callback_checks_it_against_its_own_callback_queues(
    pipeline: Pipeline, s3_client: Any
) -> None:
    source = put_dataset(s3_client, pipeline.bucket, "in/cb.csv", HEADER + "".join(lead_rows(3)))
    # The finishing step runs on the poll queue, on a worker configured more strictly.
    pipeline.start_worker("entry", concurrency=1, queues="celery,mkto_split,mkto_marketo")
    pipeline.env["CALLBACK_QUEUES"] = "etl-audit"
    pipeline.start_worker("poll", concurrency=1, queues="mkto_poll")
    pipeline.wait_ready()

    load_id = pipeline.start_load(
        source=source, object="leads", callback="etl.load_finished", callbackQueue="etl"
    )

    assert pipeline.wait_until_finished(load_id)["state"] == "succeeded"
    wait_for(lambda: "callback not sent" in pipeline.logs(), timeout=30, what="the refusal")
    assert (
        f'callback not sent load_id={load_id}: callbackQueue: "etl" is not in CALLBACK_QUEUES '
        "(etl-audit)"
    ) in pipeline.logs()
    assert pipeline.redis.llen("etl") == 0
