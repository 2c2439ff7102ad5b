"""Applying accepted Data Ingestion requests does not hold up the requests arriving meanwhile.

Marketo applies on its own servers; the sandbox applies in its own process, one
request at a time, letting go of its state lock between them. The instance runs
in this process here (its real WSGI app, over loopback HTTP) so the test can see
how many accepted requests are still waiting to be applied when a new one is
answered, without a read that would apply them first.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from werkzeug.serving import BaseWSGIServer, make_server

from infra.local_services import wait_for
from infra.sandbox.config import load_config
from infra.sandbox.server import SandboxApp
from infra.sandbox.state import Credentials, SandboxState

REQUESTS = 100
OBJECTS = 1000
APPLY_DELAY_S = 600.0


@dataclass
class Instance:
    state: SandboxState
    server: BaseWSGIServer
    url: str
    munchkin_id: str

    def send(self, session: requests.Session, token: str, body: bytes) -> requests.Response:
        return session.post(
            f"{self.url}/subscriptions/{self.munchkin_id}/persons",
            data=body,
            headers={"Content-Type": "application/json", "X-Mkto-User-Token": token},
            timeout=60,
        )


@pytest.fixture
def instance() -> Iterator[Instance]:
    base, schema = load_config(None)
    settings = base.patched({"ingestion": {"apply_delay_s": APPLY_DELAY_S}})
    state = SandboxState(settings, schema, Credentials("apply-test", "apply-secret"))
    server = make_server("127.0.0.1", 0, SandboxApp(state), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Instance(state, server, f"http://127.0.0.1:{server.server_port}",
                       settings.ingestion.munchkin_id)  # fmt: skip
    finally:
        server.shutdown()
        thread.join(timeout=10)


def persons(start: int) -> bytes:
    leads = [{"email": f"lead{n}@example.com", "firstName": f"First{n}", "leadScore": n % 100,
              "dateOfBirth": "1980-01-02"} for n in range(start, start + OBJECTS)]  # fmt: skip
    return json.dumps({"persons": leads}).encode()


def test_a_request_is_answered_while_earlier_ones_are_still_being_applied(
    instance: Instance,
) -> None:
    state = instance.state
    session = requests.Session()
    token = session.get(
        f"{instance.url}/identity/oauth/token",
        params={"grant_type": "client_credentials", "client_id": "apply-test",
                "client_secret": "apply-secret"},
        timeout=30,
    ).json()["access_token"]  # fmt: skip
    for n in range(REQUESTS):
        assert instance.send(session, token, persons(n * OBJECTS)).status_code == 202
    state.clock.advance(APPLY_DELAY_S)  # every one is due; the ticker's settle applies them
    applying = threading.Thread(target=state.settle)
    applying.start()
    wait_for(lambda: state.ingestion.pending_count() < REQUESTS, timeout=60, what="apply began")

    answer = instance.send(session, token, persons(REQUESTS * OBJECTS))
    still_pending = state.ingestion.pending_count()

    assert answer.status_code == 202
    assert still_pending > 1, "the answer waited for the whole apply"
    applying.join(timeout=120)
    assert not applying.is_alive()
    with state.settled():
        assert len(state.store.leads) == REQUESTS * OBJECTS
        assert state.ingestion.pending_count() == 1  # the new one, due later
