"""The tests' SeaweedFS: a real S3 server that checks signatures, private to the session."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.services import S3_ACCESS_KEY, S3_SECRET_KEY, Service, start_seaweedfs
from workers.storage import Storage


def client(service: Service, key: str, secret: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=service.url, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
    )  # fmt: skip


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return str(caught.value.response["Error"]["Code"])


def test_only_requests_signed_with_the_tests_key_pair_are_answered(
    seaweedfs_service: Service,
) -> None:
    good = client(seaweedfs_service, S3_ACCESS_KEY, S3_SECRET_KEY)
    good.create_bucket(Bucket="signed-only")
    good.put_object(Bucket="signed-only", Key="a.csv", Body=b"email\nx@example.com\n")
    wrong_secret = client(seaweedfs_service, S3_ACCESS_KEY, "not-the-secret")
    assert error_code(wrong_secret.get_object, Bucket="signed-only", Key="a.csv") == (
        "SignatureDoesNotMatch"
    )
    unknown_key = client(seaweedfs_service, "someone-else", S3_SECRET_KEY)
    assert error_code(unknown_key.list_objects_v2, Bucket="signed-only") == "InvalidAccessKeyId"
    anonymous = boto3.client(
        "s3", endpoint_url=seaweedfs_service.url, region_name="us-east-1",
        config=Config(signature_version=UNSIGNED),
    )  # fmt: skip
    assert error_code(anonymous.get_object, Bucket="signed-only", Key="a.csv") == "AccessDenied"
    # The storage layer does not take a refusal for a missing object.
    with pytest.raises(ClientError, match=r"\(403\).*HeadObject"):
        Storage(client=wrong_secret).list_source("s3://signed-only/a.csv")


def test_the_secret_is_in_a_private_file_never_on_the_command_line_or_in_the_log(
    seaweedfs_service: Service,
) -> None:
    argv = " ".join(map(str, seaweedfs_service.process.args))  # type: ignore[arg-type]
    assert S3_SECRET_KEY not in argv  # what `ps` shows
    config = seaweedfs_service.workdir / "s3.json"
    assert f"-s3.config={config}" in argv
    assert S3_SECRET_KEY in config.read_text()
    assert config.stat().st_mode & 0o077 == 0
    assert "-master.telemetry=false" in argv
    logs = [seaweedfs_service.log_path, *seaweedfs_service.workdir.glob("weed.*")]
    assert all(S3_SECRET_KEY not in path.read_text(errors="replace") for path in logs)


def listening(pid: int) -> set[tuple[str, int]]:
    """The TCP addresses process ``pid`` listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                host = ".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0))
                found.add((host if table == "tcp" else address, int(port, 16)))
    return found


def test_it_listens_only_on_the_loopback_ports_it_picked_and_stop_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    service = start_seaweedfs(tmp_path)
    try:
        ports = service.ports
        assert len(set(ports.values())) == 10
        assert listening(service.process.pid) == {("127.0.0.1", p) for p in ports.values()}
        sockets = [Path(f"/tmp/seaweedfs-{n}-grpc-{ports[f'{n}.port.grpc']}.sock") for n in
                   ("master", "volume", "filer", "s3")]  # fmt: skip
        assert any(path.exists() for path in sockets)
    finally:
        service.stop()
    assert service.process.poll() is not None
    assert not [path for path in sockets if path.exists()]
    # Its data, logs and configuration stay in its own directory.
    assert (service.workdir / "data").is_dir() and service.workdir.parent == tmp_path
