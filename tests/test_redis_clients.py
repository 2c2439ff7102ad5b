"""One place makes every Redis client, from REDIS_URL: one server, or the primary Sentinel names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from kombu.utils.url import maybe_sanitize_url

from workers.errors import SettingsError
from workers.redis_clients import celery_redis_conf, sentinel_address
from workers.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
SENTINELS = "sentinel://:primary-pw@s1:26379/2;sentinel://s2:26380/2;sentinel://s3"
SENTINEL_PASSWORD = "sentinel-pw-never-shown"
# kombu's own pool after a failover (the broker-restart fix) builds a Sentinel like kombu does.
ALLOWED = {
    "workers/redis_clients.py",
    "workers/kombu_patch.py",
    # The schedulers' side: a client from the scheduler's own connection, not from REDIS_URL.
    "workers/integrations/airflow/hook.py",
    "workers/integrations/dagster/resource.py",
}


def _sentinel_settings(**extra: object) -> Settings:
    return Settings.model_validate(
        {"redis_url": SENTINELS, "redis_sentinel_master": "mkto",
         "redis_sentinel_password": SENTINEL_PASSWORD, **extra}
    )  # fmt: skip


def test_a_sentinel_list_is_read_as_its_sentinels_db_and_the_primarys_password() -> None:
    address = sentinel_address(SENTINELS)
    assert address is not None
    assert address.sentinels == (("s1", 26379), ("s2", 26380), ("s3", 26379))
    assert (address.db, address.password, address.username) == (2, "primary-pw", None)
    assert sentinel_address("redis://h:6379/0") is None


def test_sentinels_need_the_primarys_name_and_well_formed_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", SENTINELS)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "REDIS_SENTINEL_MASTER is required when REDIS_URL lists sentinels" in str(raised.value)
    monkeypatch.setenv("REDIS_URL", "sentinel://s1:26379;redis://s2:6379")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "REDIS_URL must list sentinels as sentinel://host:port;sentinel://host2:port" in str(
        raised.value
    )


def test_empty_sentinel_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD", "REDIS_MIN_REPLICA_ACKS"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert settings.redis_sentinel_master is None and settings.redis_sentinel_password is None
    assert settings.replica_acks_before_post == 0


def test_a_submit_waits_for_one_replica_with_sentinel_and_for_none_without() -> None:
    assert _sentinel_settings().replica_acks_before_post == 1
    assert _sentinel_settings(redis_min_replica_acks=0).replica_acks_before_post == 0
    plain = Settings.model_validate({"redis_url": "redis://h:6379/0"})
    assert plain.replica_acks_before_post == 0
    plain = Settings.model_validate({"redis_url": "redis://h:6379/0", "redis_min_replica_acks": 2})
    assert plain.replica_acks_before_post == 2


def test_celery_gets_every_sentinel_with_the_primarys_login_and_the_sentinels_password() -> None:
    conf = celery_redis_conf(_sentinel_settings(), {"visibility_timeout": 60})
    # kombu moves to the next address when one fails and logs in with that address's password.
    assert (
        conf["broker_url"]
        == conf["result_backend"]
        == (
            "sentinel://:primary-pw@s1:26379/2;sentinel://:primary-pw@s2:26380/2;"
            "sentinel://:primary-pw@s3:26379/2"
        )
    )
    for options in (conf["broker_transport_options"], conf["result_backend_transport_options"]):
        assert options["visibility_timeout"] == 60 and options["master_name"] == "mkto"
        assert options["sentinel_kwargs"]["password"] == SENTINEL_PASSWORD
    redbeat = conf["redbeat_redis_options"]
    assert redbeat["sentinels"] == [("s1", 26379), ("s2", 26380), ("s3", 26379)]
    assert (redbeat["service_name"], redbeat["db"], redbeat["password"]) == (
        "mkto",
        2,
        "primary-pw",
    )
    # Beat's banner shows redbeat's URL through kombu's sanitizer, which must parse it.
    assert maybe_sanitize_url(conf["redbeat_redis_url"]) == "redis-sentinel://s1:26379/2"


def test_a_plain_url_goes_to_celery_as_it_is() -> None:
    conf = celery_redis_conf(Settings.model_validate({"redis_url": "redis://h:1/3"}), {"x": 1})
    assert (
        conf["broker_url"] == conf["result_backend"] == conf["redbeat_redis_url"] == "redis://h:1/3"
    )
    assert conf["broker_transport_options"] == {"x": 1} and conf["redbeat_redis_options"] == {}


def test_the_celery_app_shows_no_redis_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from celery import Celery

    conf = celery_redis_conf(_sentinel_settings(), {})
    app = Celery(broker=conf["broker_url"], backend=conf["result_backend"])
    app.conf.update(**conf)
    shown = app.conf.humanize(with_defaults=False, censored=True)
    assert "primary-pw" not in shown and SENTINEL_PASSWORD not in shown
    assert "primary-pw" not in repr(_sentinel_settings().redis_sentinel_password)


def _calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name.endswith(("Redis.from_url", "Redis", "StrictRedis", "Sentinel")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    return found


def test_no_module_but_redis_clients_makes_a_redis_client() -> None:
    found = [
        call
        for folder in ("workers", "tasks", "beat_schedule")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in ALLOWED
        for call in _calls(path)
    ]
    assert found == [], "make Redis clients with workers.redis_clients:\n" + "\n".join(found)
