"""The operator's arguments as a ``mkto_bulk.start_load`` payload (docs/etl/payload.md).

The fields every load has are the operator's own arguments, in snake_case
(``input_format`` is the payload's ``inputFormat``); an object type's own fields
go in ``parameters`` under their payload names (docs/etl/payload.md), so a new
object type needs nothing here. Every value may be a Jinja template: a rendered
template is text, so an integer field given as digits (``"{{ params.n }}"``) is
sent as the integer it spells.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workers.errors import InputError
from workers.load_request import LoadRequest
from workers.objects import SPECS

# The operator's argument -> the payload's field, for the fields every load has.
COMMON_ARGUMENTS: dict[str, str] = {
    "source": "source",
    "object": "object",
    "format": "format",
    "input_format": "inputFormat",
    "encoding": "encoding",
    "mapping": "mapping",
    "api": "api",
    "priority": "priority",
    "idempotency_key": "idempotencyKey",
    "sync_key": "syncKey",
    "full": "full",
    "callback": "callback",
    "callback_queue": "callbackQueue",
}


def object_type_fields() -> dict[str, bool]:
    """Each object type's own payload field -> whether it is an integer (from the specs)."""
    return {field.alias: field.type is int for spec in SPECS for field in spec.fields}


def common_payload_fields() -> set[str]:
    """The payload fields that are not an object type's own (the operator's arguments)."""
    own = {field.attr for spec in SPECS for field in spec.fields}
    return {
        info.alias or name for name, info in LoadRequest.model_fields.items() if name not in own
    }


def _integer(value: Any) -> Any:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def build_payload(arguments: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The payload from the operator's (rendered) arguments and ``parameters``.

    Arguments left as None are left out. A key of ``parameters`` that is one of the
    operator's own arguments (``idempotencyKey``) is refused, naming the argument.
    """
    payload = {
        COMMON_ARGUMENTS[name]: value
        for name, value in arguments.items()
        if value is not None and name in COMMON_ARGUMENTS
    }
    integers = object_type_fields()
    for key, value in parameters.items():
        if key in COMMON_ARGUMENTS.values():
            argument = next(a for a, f in COMMON_ARGUMENTS.items() if f == key)
            raise InputError(
                f"invalid load request: parameters: {key!r} is the operator's argument "
                f"{argument}=, not a parameter"
            )
        payload[key] = _integer(value) if integers.get(key) else value
    return payload
