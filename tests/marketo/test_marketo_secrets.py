"""The client secret and access tokens never reach logs, exception text or URLs."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest
import requests

from tests.marketo_helpers import make_client
from tests.sandbox_helpers import admin
from tests.services import Service
from workers.errors import MktoBulkError
from workers.marketo import MarketoClient, RetryPolicy, Upload
from workers.objects.leads import LeadImport

PATH = "/rest/v1/leads/describe.json"


class Recorder:
    """Every request the client sends: URL, headers and the tokens in them."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.tokens: set[str] = set()
        self.authorization: list[str] = []

    def attach(self, client: MarketoClient) -> None:
        client.transport.session.hooks["response"].append(self.hook)

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        self.urls.append(str(request.url))
        header = request.headers.get("Authorization")
        if header:
            self.authorization.append(header)
            self.tokens.add(header.split(" ", 1)[1])
        if response.headers.get("Content-Type", "").startswith("application/json"):
            token = response.json().get("access_token") if response.content else None
            if token:
                self.tokens.add(token)


def test_secret_and_tokens_never_appear_in_logs_or_errors(
    sandbox: Service, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = sandbox.extra["client_secret"]
    recorder = Recorder()
    failures: list[BaseException] = []

    def attempt(client: MarketoClient, call: Any) -> None:
        try:
            call(client)
        except MktoBulkError as error:
            failures.append(error)

    good = make_client(sandbox, redis_url, retry=RetryPolicy(max_retries=1, base_s=0.01))
    recorder.attach(good)
    attempt(good, lambda c: c.request_json("GET", PATH))  # success
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "601", "count": 1})
    attempt(good, lambda c: c.request_json("GET", PATH))  # 601, refreshed
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 4000})
    attempt(good, lambda c: c.request_json("GET", PATH))  # 602: a new token
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "601", "count": 3})
    attempt(good, lambda c: c.request_json("GET", PATH))  # 601 twice: raised
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "drop", "count": 2})
    attempt(good, lambda c: c.request_json("GET", PATH))  # dropped connections: raised
    attempt(good, lambda c: c.request_json("GET", "/rest/v1/nope.json"))  # 610
    attempt(good, lambda c: c.create_import(LeadImport(), Upload.from_bytes(b"email\na@b.co\n")))
    good.budgets.redis.delete(good.auth.key)  # a worker starting later: fetches again
    attempt(good, lambda c: c.request_json("GET", PATH))
    good.budgets.redis.delete(good.auth.key)  # the shared token is per client id
    bad = make_client(sandbox, redis_url, secret=secret + "-wrong")
    recorder.attach(bad)
    attempt(bad, lambda c: c.request_json("GET", PATH))  # 401
    bad.budgets.redis.delete(bad.auth.key + ":denied")
    attempt(bad, lambda c: c.request_json("GET", PATH))  # 401 again, with a fresh call

    assert len(recorder.tokens) >= 2, "the scenario should have used more than one token"
    assert len(failures) == 5
    texts = [record.getMessage() for record in caplog.records]
    texts += [repr(vars(record)) for record in caplog.records]
    for error in failures:
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
    texts += [repr(good), repr(good.config), repr(good.auth.cached())]
    blob = "\n".join(texts)
    assert "marketo GET /rest/v1/leads/describe.json" in blob  # the calls were logged
    for secret_value in [secret, secret + "-wrong", *recorder.tokens]:
        assert secret_value not in blob
    # Tokens travel only in the Authorization header, never in a URL.
    assert all(h.startswith("Bearer ") for h in recorder.authorization)
    for url in recorder.urls:
        assert "access_token" not in url and "client_secret" not in url
        assert not any(token in url for token in recorder.tokens)
