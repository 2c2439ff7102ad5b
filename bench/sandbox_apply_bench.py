"""The sandbox's own Data Ingestion cost: accepting requests and applying their objects.

Runs one sandbox instance in this process (its real WSGI app, no network) and
posts ``--requests`` persons requests of 1,000 leads shaped as the ingestion
benchmark's (11 fields, typed as the describe types them), then applies them
all with ``settle(drain=True)``; prints objects per second for each part.
This is the sandbox's cost, not Marketo's: Marketo applies on its own servers.

    .venv/bin/python bench/sandbox_apply_bench.py --requests 300
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from werkzeug.test import Client  # noqa: E402

from infra.sandbox.config import load_config  # noqa: E402
from infra.sandbox.server import SandboxApp  # noqa: E402
from infra.sandbox.state import Credentials, SandboxState  # noqa: E402

OBJECTS = 1000


def lead(n: int) -> dict[str, Any]:
    return {
        "email": f"lead{n}@example.com", "firstName": f"First{n}", "lastName": f"Last, {n}",
        "company": f"Company {n % 997}", "city": f"City {n % 211}", "country": "US",
        "phone": f"+1-555-{n % 10_000:04d}", "leadScore": n % 100,
        "annualRevenue": (n % 500) * 1000 + 0.5, "unsubscribed": bool(n % 7),
        "dateOfBirth": f"19{50 + n % 50}-0{1 + n % 9}-1{n % 10}",
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    base, schema = load_config(None)
    settings = base.patched({"ingestion": {"apply_delay_s": 3600.0}})
    state = SandboxState(settings, schema, Credentials("bench", "bench-secret"))
    client = Client(SandboxApp(state))
    token, _ = state.tokens.issue("bench", state.clock.now(), 3600)
    path = f"/subscriptions/{settings.ingestion.munchkin_id}/persons"
    headers = {"X-Mkto-User-Token": token}
    bodies = [
        json.dumps({"persons": [lead(r * OBJECTS + i) for i in range(OBJECTS)]}).encode()
        for r in range(args.requests)
    ]
    began = time.perf_counter()
    for body in bodies:
        response = client.post(path, data=body, headers=headers, content_type="application/json")
        assert response.status_code == 202, response.get_data(as_text=True)
    accepted = time.perf_counter()
    state.settle(drain=True)
    applied = time.perf_counter()
    objects = args.requests * OBJECTS
    assert len(state.store.leads) == objects
    accept_s, apply_s = accepted - began, applied - accepted
    print(f"{objects:,} objects in {args.requests} requests: "
          f"accepted in {accept_s:.2f} s ({objects / accept_s:,.0f} objects/s), "
          f"applied in {apply_s:.2f} s ({objects / apply_s:,.0f} objects/s)")  # fmt: skip


if __name__ == "__main__":
    main()
