"""A sync key in the payload, the command line and the schedule; one load per key at a time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis
from click.testing import CliRunner

from workers import sync
from workers.cli.load import load as load_command
from workers.errors import InputError, SyncKeyBusy
from workers.load_request import parse_load_request
from workers.schedule.config import parse_entry
from workers.sync import lock

LEADS = {"source": "s3://etl/leads.csv", "object": "leads", "lookupField": "email"}


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync, "SYNCS_SERVED", True)


def test_a_sync_key_is_refused_while_this_version_cannot_serve_it() -> None:
    with pytest.raises(InputError, match="syncKey: change-aware syncs are not served"):
        parse_load_request({**LEADS, "syncKey": "leads-nightly"})


@pytest.mark.usefixtures("served")
def test_a_payload_names_its_sync_key_and_asks_for_a_full_sync() -> None:
    request = parse_load_request({**LEADS, "syncKey": "leads-nightly", "full": True})
    assert (request.sync_key, request.full) == ("leads-nightly", True)
    assert request.to_json()["syncKey"] == "leads-nightly"
    plain = parse_load_request(LEADS)
    assert plain.sync_key is None and not plain.full
    # A load without a sync key stores (and compares, for idempotency) the same JSON as before.
    assert plain.to_json() == {**LEADS, "format": "csv", "mapping": {}}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"syncKey": "a b"}, 'syncKey: "a b" is not a sync key'),
        ({"syncKey": "x" * 101}, "is not a sync key"),
        ({"full": True}, "full: only applies with a syncKey"),
        ({"syncKey": "k", "full": "yes"}, "full: Input should be a valid boolean"),
    ],
)
@pytest.mark.usefixtures("served")
def test_a_bad_sync_key_or_full_is_refused_naming_the_field(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        parse_load_request({**LEADS, **fields})


def test_the_command_line_takes_sync_key_and_full() -> None:
    result = CliRunner().invoke(load_command, ["--help"])
    assert "--sync-key" in result.output and "--full" in result.output
    bad = CliRunner().invoke(load_command, ["s3://etl/leads.csv", "--object", "leads", "--full"])
    assert bad.exit_code == 2 and "full: only applies with a syncKey" in bad.output


@pytest.mark.usefixtures("served")
def test_a_schedule_entry_with_sync_uses_its_own_name_unless_it_names_a_key() -> None:
    base = {"name": "leads-nightly", "cron": "0 2 * * *", "timezone": "UTC",
            "source": "s3://etl/leads/{ds}/", "object": "leads"}  # fmt: skip
    at = datetime(2026, 12, 1, 2, tzinfo=UTC)
    own = parse_entry({**base, "sync": True}, default_wait_s=60).run_for(at).payload
    named = parse_entry({**base, "sync": True, "syncKey": "crm"}, default_wait_s=60)
    plain = parse_entry(base, default_wait_s=60).run_for(at).payload
    assert own["syncKey"] == "leads-nightly"
    assert named.run_for(at).payload["syncKey"] == "crm"
    assert "syncKey" not in plain


def test_a_second_load_of_a_running_sync_key_is_refused_naming_the_first(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    lock.claim(client, "123-ABC", "leads", "nightly", "load-1")
    lock.claim(client, "123-ABC", "leads", "nightly", "load-1")  # a redelivered start
    with pytest.raises(SyncKeyBusy, match="load load-1 of the same sync key"):
        lock.claim(client, "123-ABC", "leads", "nightly", "load-2")
    lock.claim(client, "123-ABC", "customobjects", "nightly", "load-3")  # another object
    assert not lock.release(client, "123-ABC", "leads", "nightly", "load-2")
    assert lock.release(client, "123-ABC", "leads", "nightly", "load-1")
    lock.claim(client, "123-ABC", "leads", "nightly", "load-2")
