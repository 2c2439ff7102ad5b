"""infra/compose.sentinel.yaml on top of compose.yaml: Redis under Sentinel, checked offline.

Compose merges an override file into the base: mappings key by key, a command replaced.
The override uses only those, so merging the parsed files that way is what
``docker compose -f infra/compose.yaml -f infra/compose.sentinel.yaml config`` sees.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.infra.test_infra_compose import SECRET_NAME, schema_errors
from tests.infra_helpers import (
    ENV_EXAMPLE,
    INFRA,
    argv,
    celery_role,
    compose_raw,
    env_file,
    interpolate,
    load_settings_from,
    option,
    service_env,
)
from workers.redis_clients import sentinel_address

OVERRIDE = INFRA / "compose.sentinel.yaml"
NODES = ("redis", "redis-replica-1", "redis-replica-2")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return override


def merged_raw() -> dict[str, Any]:
    return dict(_merge(compose_raw(), yaml.safe_load(OVERRIDE.read_text())))


def merged() -> dict[str, Any]:
    return dict(interpolate(merged_raw(), env_file(ENV_EXAMPLE)))


def _sentinel_conf(service: dict[str, Any]) -> list[str]:
    """The lines a sentinel writes to its file at first start."""
    script = " ".join(argv(service["command"]))
    return re.findall(r"'([^']*)'", script.split("printf", 1)[1].split(">", 1)[0])[1:]


def test_the_merged_file_follows_the_compose_specification() -> None:
    assert schema_errors(merged_raw()) == []
    assert schema_errors(merged()) == []


def test_every_app_process_asks_the_three_sentinels_for_the_primary_they_watch(
    monkeypatch: Any,
) -> None:
    services = merged()["services"]
    app = {n: s for n, s in services.items() if celery_role(argv(s.get("command", [])))}
    app["metrics"] = services["metrics"]
    assert len(app) == 7
    for name, service in app.items():
        env = service_env(service)
        address = sentinel_address(env["REDIS_URL"])
        assert address is not None, name
        assert address.sentinels == tuple((s, 26379) for s in SENTINELS), name
        assert service["depends_on"]["sentinel-1"]["condition"] == "service_healthy", name
        settings = load_settings_from(env, monkeypatch, marketo=name != "metrics")
        assert settings.redis_sentinel_master == "mkto" and settings.replica_acks_before_post == 1
    for name in SENTINELS:
        conf = _sentinel_conf(services[name])
        assert "sentinel monitor mkto redis 6379 2" in conf  # quorum: two of the three
        assert "sentinel resolve-hostnames yes" in conf and "port 26379" in conf
        assert "[ -f /data/sentinel.conf ] ||" in " ".join(argv(services[name]["command"]))


def test_every_redis_node_keeps_an_aof_never_evicts_and_wants_a_replica_to_write() -> None:
    services = merged()["services"]
    for name in NODES:
        args = argv(services[name]["command"])
        assert option(args, "--appendonly") == ["yes"], name
        assert option(args, "--appendfsync") == ["everysec"], name
        assert option(args, "--maxmemory-policy") == ["noeviction"], name
        assert option(args, "--min-replicas-to-write") == ["1"], name
        assert option(args, "--min-replicas-max-lag") == ["10"], name
        assert option(args, "--replica-announce-ip") == [name], name
        assert any(volume.endswith(":/data") for volume in services[name]["volumes"]), name
    for name in NODES[1:]:
        assert option(argv(services[name]["command"]), "--replicaof") == ["redis"], name


def test_the_added_services_restart_report_health_and_hold_no_credential() -> None:
    added = yaml.safe_load(OVERRIDE.read_text())["services"]
    services = merged()["services"]
    for name in (*NODES[1:], *SENTINELS):
        assert services[name]["restart"] == "unless-stopped", name
        assert services[name]["healthcheck"]["test"], name
    for name, service in added.items():
        assert not [key for key in service_env(service) if SECRET_NAME.search(key)], name
