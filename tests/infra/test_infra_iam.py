"""infra/iam: the S3 policy grants exactly what the storage code calls, on the prefixes it uses."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.infra_helpers import IAM_POLICY, ROOT, compose_config, k8s_kind, service_env

STORAGE = ROOT / "workers" / "storage.py"
# The IAM actions behind each S3 call the code makes. boto3's managed transfers
# (upload_file, upload_fileobj) use multipart uploads for big files: create, upload part
# and complete are s3:PutObject; a failed transfer aborts, which is its own action.
ACTIONS_OF_CALL = {
    "head_object": {"s3:GetObject"},
    "get_object": {"s3:GetObject"},
    "head_bucket": {"s3:ListBucket"},
    "list_objects_v2": {"s3:ListBucket"},
    "put_object": {"s3:PutObject"},
    "upload_file": {"s3:PutObject", "s3:AbortMultipartUpload"},
    "upload_fileobj": {"s3:PutObject", "s3:AbortMultipartUpload"},
    "delete_object": {"s3:DeleteObject"},
    "copy_object": {"s3:GetObject", "s3:PutObject"},
    "download_file": {"s3:GetObject"},
    "download_fileobj": {"s3:GetObject"},
}
READ_ACTIONS = {"s3:GetObject", "s3:ListBucket"}


def policy() -> dict[str, Any]:
    return dict(json.loads(IAM_POLICY.read_text()))


def statements() -> list[dict[str, Any]]:
    return list(policy()["Statement"])


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def s3_calls(path: Path) -> set[str]:
    """Methods called on an S3 client (``….client.<method>(``) and paginated operations."""
    calls = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "client":
            if node.func.attr == "get_paginator":
                calls.add(str(ast.literal_eval(node.args[0])))
            else:
                calls.add(node.func.attr)
    return calls


def staging_uri() -> str:
    (config,) = [c for c in k8s_kind("ConfigMap") if c["metadata"]["name"] == "mkto-bulk-config"]
    return str(config["data"]["STAGING_URI"])


def test_the_policy_is_valid_json_with_only_allow_statements_and_no_wildcard_grants() -> None:
    document = policy()
    assert document["Version"] == "2012-10-17"
    for statement in statements():
        assert statement["Effect"] == "Allow" and statement["Sid"]
        for action in as_list(statement["Action"]):
            assert action.startswith("s3:") and "*" not in action, action
        for resource in as_list(statement["Resource"]):
            assert resource.startswith("arn:aws:s3:::") and resource != "arn:aws:s3:::*"
            bucket, _, key = resource.removeprefix("arn:aws:s3:::").partition("/")
            assert "*" not in bucket, resource
            assert key != "*", f"{resource}: a whole bucket, not a prefix"


def test_only_the_storage_module_talks_to_s3() -> None:
    for path in [*ROOT.glob("workers/**/*.py"), *ROOT.glob("tasks/**/*.py")]:
        if path != STORAGE:
            assert not re.search(r"^\s*(import|from) boto3\b", path.read_text(), re.M), path


def test_the_policy_grants_exactly_the_actions_the_storage_code_calls() -> None:
    calls = s3_calls(STORAGE)
    assert {"get_object", "put_object", "list_objects_v2"} <= calls, calls
    unknown = calls - ACTIONS_OF_CALL.keys()
    assert not unknown, f"map {unknown} to IAM actions here and grant them in the policy"
    needed = set().union(*(ACTIONS_OF_CALL[call] for call in calls))
    granted = {action for s in statements() for action in as_list(s["Action"])}
    assert granted == needed


def test_sources_are_only_read_and_writes_stay_under_the_staging_prefix() -> None:
    staging = urlsplit(staging_uri())
    staging_objects = f"arn:aws:s3:::{staging.hostname}{staging.path}/*"
    for statement in statements():
        actions = set(as_list(statement["Action"]))
        resources = as_list(statement["Resource"])
        if actions - READ_ACTIONS:
            assert resources == [staging_objects], statement["Sid"]
    staging_grants = {
        action
        for s in statements()
        if as_list(s["Resource"]) == [staging_objects]
        for action in as_list(s["Action"])
    }
    assert {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"} <= staging_grants


def test_listing_is_limited_to_the_prefixes_whose_objects_may_be_read() -> None:
    readable = [
        r.removeprefix("arn:aws:s3:::").removesuffix("*")
        for s in statements()
        if "s3:GetObject" in as_list(s["Action"])
        for r in as_list(s["Resource"])
    ]
    for statement in statements():
        if "s3:ListBucket" not in as_list(statement["Action"]):
            continue
        (bucket_arn,) = as_list(statement["Resource"])
        bucket = bucket_arn.removeprefix("arn:aws:s3:::")
        prefixes = statement["Condition"]["StringLike"]["s3:prefix"]
        for prefix in as_list(prefixes):
            assert any(f"{bucket}/{prefix.removesuffix('*')}".startswith(r) for r in readable)


def test_the_staging_prefix_granted_is_the_one_compose_and_kubernetes_configure() -> None:
    staging = staging_uri()
    for name, service in compose_config()["services"].items():
        env = service_env(service)
        if "STAGING_URI" in env:
            assert env["STAGING_URI"] == staging, name
