"""Lookups of what an import names: static lists, lead partitions, programs and channels.

Built from the same definitions the bulk imports check ``listId``,
``partitionName``, ``programId`` and ``programMemberStatus`` against, so a
client that checks first sees exactly what an import would accept.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from infra.sandbox.channels import channel_json, program_json
from infra.sandbox.config import Schema
from infra.sandbox.envelope import MarketoError, asset_ok, ok

_DEFINED_AT = "2024-01-15T10:00:00Z"
MAX_CHANNELS = 200


def answer(request: Request, schema: Schema, endpoint: str, args: dict[str, Any]) -> Response:
    """The lookup routes (``get_*`` in the server's ROUTES)."""
    if endpoint == "get_list":
        return static_list(schema, args["list_id"])
    if endpoint == "get_partitions":
        return partitions(schema)
    if endpoint == "get_program":
        return program(schema, args["program_id"])
    if endpoint == "get_channel":
        return channel_by_name(request, schema)
    return channels(request, schema)


def static_list(schema: Schema, list_id: int) -> Response:
    """``GET /rest/v1/lists/{listId}.json``: one ``StaticList``, or 1013."""
    name = schema.static_lists.get(list_id)
    if name is None:
        raise MarketoError("1013", f"Static list '{list_id}' not found")
    item = {
        "id": list_id,
        "name": name,
        "description": "",
        "programName": "",
        "workspaceName": "Default",
        "createdAt": _DEFINED_AT,
        "updatedAt": _DEFINED_AT,
    }
    return ok([item])


def partitions(schema: Schema) -> Response:
    """``GET /rest/v1/leads/partitions.json``: every ``LeadPartition``."""
    return ok(
        [
            {"id": number, "name": name, "description": f"{name} partition"}
            for number, name in enumerate(schema.partitions, start=1)
        ]
    )


def program(schema: Schema, program_id: int) -> Response:
    """``GET /rest/asset/v1/program/{id}.json``: the program with its channel."""
    definition = schema.programs.get(program_id)
    return asset_ok([program_json(definition)] if definition else [])


def channel_by_name(request: Request, schema: Schema) -> Response:
    """``GET /rest/asset/v1/channel/byName.json?name=``: the channel's progression statuses."""
    name = request.args.get("name")
    if not name:
        raise MarketoError("701", "name cannot be blank")
    definition = schema.channels.get(name)
    return asset_ok([channel_json(definition)] if definition else [])


def channels(request: Request, schema: Schema) -> Response:
    """``GET /rest/asset/v1/channels.json?offset=&maxReturn=``: a page of channels."""
    offset = _int(request, "offset", 0)
    limit = _int(request, "maxReturn", 20)
    if not 1 <= limit <= MAX_CHANNELS:
        raise MarketoError("1003", f"maxReturn must be between 1 and {MAX_CHANNELS}")
    page = list(schema.channels.values())[offset : offset + limit]
    return asset_ok([channel_json(c) for c in page])


def _int(request: Request, name: str, default: int) -> int:
    raw: Any = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise MarketoError("1001", f"Invalid value '{raw}'. Required of type 'Integer'") from None
    if value < 0:
        raise MarketoError("1003", f"{name} must not be negative")
    return value
