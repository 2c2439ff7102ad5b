"""Run in a copy of ``workers/`` that registers the made-up ``orders`` type; prints what it sees.

``test_fourth_type`` runs it as ``python -m tests.objects.fourth_type_probe``
with the copy first on ``PYTHONPATH``, so ``workers`` is the copy's and
``tests`` this checkout's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

SOURCE = "s3://etl-in/orders.csv"


def refusal(payload: dict[str, Any]) -> str:
    from workers.errors import InputError
    from workers.load_request import parse_load_request

    try:
        parse_load_request({"source": SOURCE, **payload})
    except InputError as error:
        return str(error)
    return "accepted"


def cli_run(*args: str) -> dict[str, Any]:
    """``mkto-bulk load ...`` with ``start_load`` validating and recording instead of sending."""
    import workers.api
    from workers.cli import cli
    from workers.load_request import parse_load_request

    sent: list[dict[str, Any]] = []

    def start_load(payload: dict[str, Any], **_: Any) -> str:
        parse_load_request(payload)
        sent.append(payload)
        return "load-1"

    workers.api.start_load = start_load
    result = CliRunner().invoke(cli, ["load", *args])
    return {"exit": result.exit_code, "output": result.output, "sent": sent}


def main() -> None:
    import workers
    from tests.objects.spec_names import elsewhere, own_names
    from workers.cli import cli
    from workers.load_request import parse_load_request
    from workers.objects import REGISTRY, ObjectType
    from workers.payload_text import field_limits
    from workers.targets import import_target

    spec = REGISTRY["orders"]
    request = parse_load_request(
        {"source": SOURCE, "object": "orders", "catalogId": 77, "orderCurrency": "EUR"}
    )
    target = import_target(request)
    root = Path(workers.__file__).resolve().parents[1]
    report = {
        "workers": str(root),
        "object_types": [member.value for member in ObjectType],
        "to_json": request.to_json(),
        "limit": field_limits().get("orderCurrency"),
        "refusals": {
            "missing": refusal({"object": "orders"}),
            "too long": refusal({"object": "orders", "catalogId": 77, "orderCurrency": "EURO"}),
            "a string id": refusal({"object": "orders", "catalogId": "77"}),
            "on leads": refusal({"object": "leads", "catalogId": 77}),
            "leads' on orders": refusal(
                {"object": "orders", "catalogId": 77, "lookupField": "email"}
            ),
            "a shared field on orders": refusal({"object": "orders", "catalogId": 77, "listId": 3}),
        },
        "target": {
            "class": type(target).__name__,
            "kind": target.kind.value,
            "create": target.create_path(),
            "status": target.status_path(9),
            "failures": target.file_path(9, "failures"),
            "params": target.params(),
        },
        "help": " ".join(CliRunner().invoke(cli, ["load", "--help"]).output.split()),
        "cli": cli_run(
            SOURCE, "--object", "orders", "--catalog-id", "77", "--order-currency", "EUR"
        ),
        "cli bad id": cli_run(SOURCE, "--object", "orders", "--catalog-id", "x"),
        "cli on leads": cli_run(SOURCE, "--object", "leads", "--catalog-id", "77"),
        "elsewhere": {name: elsewhere(root, each) for name, each in REGISTRY.items()},
        "orders names": sorted(own_names(spec)),
    }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
