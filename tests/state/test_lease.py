"""Leases on a real Redis: one owner at a time, and only the owner renews or releases."""

from __future__ import annotations

import pytest
import redis

from tests.services import wait_for
from workers.state.lease import Lease

KEY = "mkto:load:load-1:split_lease"


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_the_first_owner_takes_the_lease_and_a_second_is_refused(client: redis.Redis) -> None:
    first, second = Lease(client, KEY, 30), Lease(client, KEY, 30)
    assert first.acquire() is True
    assert second.acquire() is False
    assert first.held() is True and second.held() is False
    assert client.get(KEY) == first.owner.encode()
    assert 29_000 < client.pttl(KEY) <= 30_000


def test_only_the_owner_renews(client: redis.Redis) -> None:
    owner, other = Lease(client, KEY, 30), Lease(client, KEY, 30)
    assert owner.acquire()
    client.pexpire(KEY, 1_000)
    assert other.renew() is False
    assert client.pttl(KEY) <= 1_000, "a non-owner's renewal must not extend the lease"
    assert owner.renew() is True
    assert client.pttl(KEY) > 29_000, "the owner's renewal gives the lease a full lifetime"


def test_a_release_by_a_non_owner_leaves_the_lease_in_place(client: redis.Redis) -> None:
    owner, other = Lease(client, KEY, 30), Lease(client, KEY, 30)
    assert owner.acquire()
    assert other.release() is False
    assert client.get(KEY) == owner.owner.encode()
    assert owner.release() is True
    assert client.exists(KEY) == 0
    assert owner.release() is False, "releasing twice does nothing"
    assert owner.renew() is False, "a released lease cannot be renewed back"


def test_an_expired_lease_lets_another_owner_in_and_the_old_one_cannot_touch_it(
    client: redis.Redis,
) -> None:
    old, new = Lease(client, KEY, 0.2), Lease(client, KEY, 30)
    assert old.acquire()
    wait_for(lambda: client.exists(KEY) == 0, timeout=5, what="the lease to expire")
    assert new.acquire() is True
    assert old.held() is False
    assert old.renew() is False and old.release() is False
    assert new.held() is True and client.get(KEY) == new.owner.encode()


def test_a_lease_works_on_a_client_that_decodes_responses(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    lease = Lease(client, KEY, 30)
    assert lease.acquire() and lease.held()
    assert lease.renew() and lease.release()
    assert client.exists(KEY) == 0
