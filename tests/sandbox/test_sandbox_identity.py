"""Sandbox identity and auth: tokens, expiry, 600/601/602, and the query-string refusal."""

from __future__ import annotations

import requests

from tests.sandbox_helpers import Caller, admin, configure, error_code, errors, stats
from tests.services import Service, wait_for

TOKEN_PATH = "/identity/oauth/token"
DESCRIBE = "/rest/v1/leads/describe.json"


def _params(service: Service, **override: str) -> dict[str, str]:
    params = {
        "grant_type": "client_credentials",
        "client_id": service.extra["client_id"],
        "client_secret": service.extra["client_secret"],
    }
    params.update(override)
    return params


def test_get_token_has_marketo_fields(sandbox: Service) -> None:
    response = requests.get(sandbox.url + TOKEN_PATH, params=_params(sandbox), timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"]
    assert stats(sandbox)["tokens_issued"] == 1


def test_post_token_query_or_form_body(sandbox: Service) -> None:
    by_query = requests.post(sandbox.url + TOKEN_PATH, params=_params(sandbox), timeout=10)
    by_form = requests.post(sandbox.url + TOKEN_PATH, data=_params(sandbox), timeout=10)
    assert by_query.status_code == by_form.status_code == 200
    assert by_query.json()["access_token"] == by_form.json()["access_token"]


def test_same_token_with_decreasing_expires_in(sandbox: Service) -> None:
    first = requests.get(sandbox.url + TOKEN_PATH, params=_params(sandbox), timeout=10).json()
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 100})
    second = requests.get(sandbox.url + TOKEN_PATH, params=_params(sandbox), timeout=10).json()
    assert second["access_token"] == first["access_token"]
    assert second["expires_in"] in (3499, 3500)
    assert stats(sandbox)["tokens_issued"] == 1


def test_bad_credentials_401(sandbox: Service) -> None:
    for override in ({"client_secret": "wrong"}, {"client_id": "nobody"}, {"client_secret": ""}):
        response = requests.get(
            sandbox.url + TOKEN_PATH, params=_params(sandbox, **override), timeout=10
        )
        assert response.status_code == 401
        assert response.json() == {
            "error": "invalid_client",
            "error_description": "Bad client credentials",
        }
    bad_grant = requests.get(
        sandbox.url + TOKEN_PATH, params=_params(sandbox, grant_type="password"), timeout=10
    )
    assert bad_grant.status_code == 400
    assert stats(sandbox)["calls_by_code"]["401"] == 3


def test_token_expires_with_short_ttl(sandbox: Service) -> None:
    configure(sandbox, token_ttl=1)
    caller = Caller(sandbox)
    old = caller.token()
    assert caller.get(DESCRIBE).json()["success"] is True

    def expired() -> bool:
        return caller.get(DESCRIBE).json().get("errors", [{}])[0].get("code") == "602"

    wait_for(expired, timeout=5, what="602 Access token expired")
    assert errors(caller.get(DESCRIBE))[0]["message"] == "Access token expired"
    assert caller.token() != old  # a new token once the old one expired
    assert caller.get(DESCRIBE).json()["success"] is True


def test_missing_unknown_and_expired_tokens(sandbox: Service) -> None:
    url = sandbox.url + DESCRIBE
    missing = requests.get(url, timeout=10)
    assert errors(missing) == [{"code": "600", "message": "Access token not specified"}]
    unknown = requests.get(url, headers={"Authorization": "Bearer nope:sb"}, timeout=10)
    assert errors(unknown) == [{"code": "601", "message": "Access token invalid"}]
    caller = Caller(sandbox)
    caller.token()
    assert admin(sandbox, "POST", "/_sandbox/tokens/expire", {})["expired"] == 1
    assert error_code(caller.get(DESCRIBE)) == "602"
    by_time = Caller(sandbox)
    by_time.token()
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 3601})
    assert error_code(by_time.get(DESCRIBE)) == "602"


def test_query_parameter_token_refused(sandbox: Service) -> None:
    caller = Caller(sandbox)
    token = caller.token()
    response = requests.get(sandbox.url + DESCRIBE, params={"access_token": token}, timeout=10)
    [error] = errors(response)
    assert error["code"] == "601"
    assert "query parameter is not supported" in error["message"]
    both = requests.get(
        sandbox.url + DESCRIBE,
        params={"access_token": token},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert error_code(both) == "601"
    form = requests.post(
        sandbox.url + "/bulk/v1/leads.json",
        data={"format": "csv", "access_token": token},
        files={"file": ("a.csv", b"email\na@b.co\n")},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert error_code(form) == "601"


def test_auth_failures_not_counted_against_quota(sandbox: Service) -> None:
    requests.get(sandbox.url + DESCRIBE, timeout=10)
    requests.get(sandbox.url + DESCRIBE, headers={"Authorization": "Bearer x"}, timeout=10)
    Caller(sandbox).token()
    counters = stats(sandbox)
    assert counters["daily_calls"] == 0
    assert counters["calls"] == 3
    assert counters["calls_by_code"] == {"600": 1, "601": 1, "200": 1}
    assert counters["calls_by_endpoint"] == {
        "GET /rest/v1/leads/describe.json": 2,
        "GET /identity/oauth/token": 1,
    }


def test_secret_and_tokens_never_logged(sandbox: Service) -> None:
    caller = Caller(sandbox)
    token = caller.token()
    caller.get(DESCRIBE)
    requests.get(sandbox.url + DESCRIBE, params={"access_token": token}, timeout=10)
    log = sandbox.log()
    assert sandbox.extra["client_secret"] not in log
    assert token not in log
