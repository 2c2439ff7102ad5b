"""An idempotency key names one payload: reused with another, it is refused as a conflict.

Through each entry point: ``send_task``, the Python function, the CLI.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_cli_load import cli
from tests.pipeline_helpers import Pipeline, lead_rows, put_dataset
from workers.errors import InputError

HEADER = "email,firstName,lastName,leadScore\n"
KEY = "nightly-2026-11-30"


def conflict(key: str, load_id: str) -> str:
    return f'idempotencyKey "{key}" was already used by load {load_id} with a different payload'


def test_send_task_with_a_reused_key_and_another_payload_is_refused(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    source = put_dataset(s3_client, bucket, "in/nightly.csv", HEADER + "".join(lead_rows(4)))
    pipeline.start_worker("a", concurrency=1)
    first = pipeline.start_load(source=source, object="leads", idempotencyKey=KEY)

    other = pipeline.celery().send_task(
        "mkto_bulk.start_load",
        kwargs={"source": source, "object": "leads", "lookupField": "email", "idempotencyKey": KEY},
    )
    with pytest.raises(InputError) as caught:
        other.get(timeout=60)
    assert str(caught.value) == conflict(KEY, first)

    # The same payload, normalised (defaults spelled out, other key order): the same load.
    again = pipeline.start_load(idempotencyKey=KEY, format="csv", object="leads", source=source)
    assert again == first
    assert pipeline.redis.zrange("mkto:loads", 0, -1) == [first.encode()]
    load = pipeline.wait_until_finished(first)
    assert (load["state"], load["rows_processed"]) == ("succeeded", "4")


def test_the_python_function_raises_the_conflict_naming_the_key_and_the_first_load(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    from workers.api import start_load

    url = pipeline.redis_url
    source = put_dataset(s3_client, bucket, "in/api.csv", HEADER + "".join(lead_rows(3)))
    other = put_dataset(s3_client, bucket, "in/other.csv", HEADER + "".join(lead_rows(3)))
    pipeline.start_worker("a", concurrency=1)
    first = start_load({"source": source, "object": "leads", "idempotencyKey": KEY}, redis_url=url)

    with pytest.raises(InputError) as caught:
        start_load({"source": other, "object": "leads", "idempotencyKey": KEY}, redis_url=url)

    assert str(caught.value) == conflict(KEY, first)
    assert start_load({"source": source, "object": "leads", "idempotencyKey": KEY},
                      redis_url=url) == first  # fmt: skip
    assert pipeline.redis.zcard("mkto:loads") == 1


def test_the_cli_exits_2_on_a_conflict_and_prints_it(
    pipeline: Pipeline, s3_client: Any, bucket: str
) -> None:
    source = put_dataset(s3_client, bucket, "in/cli.csv", HEADER + "".join(lead_rows(3)))
    pipeline.start_worker("a", concurrency=1)
    first = cli(pipeline, "load", source, "--object", "leads", "--idempotency-key", KEY)
    assert first.returncode == 0, first.stderr
    load_id = first.stdout.strip()

    second = cli(pipeline, "load", source, "--object", "leads", "--idempotency-key", KEY,
                 "--partition-name", "EMEA")  # fmt: skip

    assert second.returncode == 2, second.stdout + second.stderr
    assert second.stdout == ""
    assert second.stderr.strip() == f"Error: {conflict(KEY, load_id)}"
    assert pipeline.redis.zcard("mkto:loads") == 1
