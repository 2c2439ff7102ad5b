"""Which infrastructure errors a task waits out, and the settings that pace it (pure logic)."""

from __future__ import annotations

import pytest
import redis.exceptions
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from workers import kombu_patch
from workers.errors import RedisUnavailable, SettingsError, StorageUnavailable
from workers.pipeline.transient import as_transient, transient_boundary
from workers.settings import load_settings


def _s3_error(status: int, code: str) -> ClientError:
    answer = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(answer, "PutObject")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (redis.exceptions.ConnectionError("Error 111 connecting"), RedisUnavailable),
        (redis.exceptions.BusyLoadingError("Redis is loading the dataset"), RedisUnavailable),
        (redis.exceptions.TimeoutError("Timeout reading"), RedisUnavailable),
        (
            redis.exceptions.ResponseError("NOREPLICAS Not enough good replicas to write."),
            RedisUnavailable,
        ),
        (
            redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
            RedisUnavailable,
        ),
        (EndpointConnectionError(endpoint_url="http://s3.local"), StorageUnavailable),
        (ReadTimeoutError(endpoint_url="http://s3.local"), StorageUnavailable),
        (_s3_error(503, "SlowDown"), StorageUnavailable),
        (_s3_error(500, "InternalError"), StorageUnavailable),
    ],
)
def test_outages_are_transient(error: Exception, kind: type[Exception]) -> None:
    mapped = as_transient(error)
    assert isinstance(mapped, kind)
    with pytest.raises(kind) as raised:
        transient_boundary(lambda: (_ for _ in ()).throw(error))
    assert raised.value.__cause__ is error


@pytest.mark.parametrize(
    "error",
    [
        _s3_error(403, "AccessDenied"),
        _s3_error(404, "NoSuchKey"),
        ValueError("bad"),
        KeyError("k"),
        redis.exceptions.ResponseError("WRONGTYPE Operation against a key"),
    ],
)
def test_other_errors_pass_through_unchanged(error: Exception) -> None:
    assert as_transient(error) is None
    with pytest.raises(type(error)) as raised:
        transient_boundary(lambda: (_ for _ in ()).throw(error))
    assert raised.value is error


def test_a_split_lease_renewed_too_rarely_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPLIT_LEASE_S", "10")
    monkeypatch.setenv("SPLIT_LEASE_RENEW_S", "5")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        "invalid settings: SPLIT_LEASE_RENEW_S must be at most a third of SPLIT_LEASE_S"
    )


def test_the_broker_restart_fix_is_guarded_by_kombu_version() -> None:
    assert kombu_patch.needed((5, 7))
    assert not kombu_patch.needed((5, 8))
    assert not kombu_patch.needed((4, 6))
