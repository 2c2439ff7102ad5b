"""A push's envelope: the object, its parameters, the API, the age limit and the records.

Only what concerns the push as a whole is checked here (each record is
checked on its own against the describe, in ``records.py``): an unknown
object, a parameter that does not fit it, a bad ``api`` or ``maxAgeS``, more
records than one push may hold. The object's parameters are a load's
(its spec's payload fields): they are validated by the load
request itself, so a push and a load accept exactly the same values.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workers import defaults
from workers.errors import InputError
from workers.load_request import LoadRequest, parse_load_request
from workers.objects import REGISTRY, SPECS, ObjectSpec
from workers.objects.base import given
from workers.payload_text import shown
from workers.push.api_choice import BULK, INGESTION

APIS = (INGESTION, BULK)
MAX_AGE_RANGE_S = (1.0, 3600.0)  # Marketo's medium latency: seconds to an hour
ENVELOPE = ("object", "records", "api", "maxAgeS")
# A push has no source: the load request that validates its parameters is given this one.
PARAMETERS_ONLY = "s3://mkto-bulk-push/parameters-only"
PREFIX = "invalid push: "


@dataclass(frozen=True)
class PushRequest:
    """A push whose envelope is valid; its records are still to be checked one by one."""

    object: str
    parameters: dict[str, Any]  # the object's own fields, by payload name
    api: str | None  # None: ingestion when the instance is entitled, else bulk
    max_age_s: float
    records: list[Any]
    load: LoadRequest  # the parameters as a load request (what the spec reads them from)

    @property
    def spec(self) -> ObjectSpec[Any]:
        return REGISTRY[self.object]

    @property
    def queue_id(self) -> str:
        """The queue these records join: one per object, parameters and API choice."""
        return queue_id(self.object, self.parameters, self.api)

    def identity(self) -> dict[str, str]:
        """What the queue's hash records about the queue (read back by the flusher)."""
        return {
            "object": self.object,
            "parameters": json.dumps(self.parameters, sort_keys=True),
            "api": self.api or "",
        }


def queue_id(obj: str, parameters: Mapping[str, Any], api: str | None) -> str:
    text = json.dumps([obj, dict(parameters), api or "auto"], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _object_parameters(payload: Mapping[str, Any]) -> dict[str, Any]:
    aliases = {field.alias for spec in SPECS for field in spec.fields}
    return {k: v for k, v in payload.items() if k in aliases}


def parameters_request(
    obj: Any, parameters: Mapping[str, Any], api: str | None = None
) -> LoadRequest:
    """The object and its parameters, validated as a load's through ``api`` (InputError as a
    push's); None: checked as for bulk import, or for the one API that takes the type."""
    asked = api or only_api(obj)
    payload = {"source": PARAMETERS_ONLY, "object": obj, **parameters}
    try:
        return parse_load_request({**payload, "api": asked} if asked else payload)
    except InputError as error:
        raise InputError(PREFIX + str(error).removeprefix("invalid load request: ")) from None


def parse_push(
    payload: Mapping[str, Any],
    *,
    default_max_age_s: float = defaults.PUSH_MAX_AGE_S,
    max_records: int = defaults.PUSH_MAX_RECORDS,
) -> PushRequest:
    """Validate a push's envelope; InputError names the field (the push is refused whole)."""
    if not isinstance(payload, Mapping):
        raise InputError(PREFIX + "the push must be a JSON object")
    parameters = _object_parameters(payload)
    unknown = [k for k in payload if k not in ENVELOPE and k not in parameters]
    problems = [f"{shown(str(k), quote=False)}: is not a known field" for k in unknown]
    if "object" not in payload:
        problems.append("object: is required")
    problems += _api_problems(payload.get("api"))
    problems += _age_problems(payload.get("maxAgeS"))
    problems += _records_problems(payload.get("records"), max_records)
    if problems:
        raise InputError(PREFIX + "; ".join(problems))
    api = payload.get("api") or only_api(payload["object"])
    load = parameters_request(payload["object"], parameters, api)
    spec = REGISTRY[load.object]
    own = {f.alias: load.option(f) for f in spec.fields if given(load.option(f))}
    age = payload.get("maxAgeS")
    return PushRequest(
        object=spec.name,
        parameters=own,
        api=api,
        max_age_s=float(age) if age is not None else default_max_age_s,
        records=list(payload["records"]),
        load=load,
    )


def only_api(obj: Any) -> str | None:
    """The Data Ingestion API for a type that has no bulk import (the only API that takes it)."""
    spec = REGISTRY.get(obj) if isinstance(obj, str) else None
    return INGESTION if spec is not None and not spec.bulk_import else None


def _api_problems(api: Any) -> list[str]:
    if api is None or api in APIS:
        return []
    return [
        'api: must be "ingestion" or "bulk" (or left out: the Data Ingestion API when the '
        "instance is entitled to it, else bulk import)"
    ]


def _age_problems(age: Any) -> list[str]:
    low, high = MAX_AGE_RANGE_S
    if age is None:
        return []
    number = isinstance(age, int | float) and not isinstance(age, bool)
    if not number or not math.isfinite(age) or not low <= age <= high:
        return [f"maxAgeS: must be a number of seconds from {low:g} to {high:g}"]
    return []


def _records_problems(records: Any, max_records: int) -> list[str]:
    if records is None:
        return ["records: is required (a list of JSON objects)"]
    if not isinstance(records, list):
        return ["records: must be a list of JSON objects"]
    if not records:
        return ["records: is empty"]
    if len(records) > max_records:
        return [
            f"records: {len(records):,} records in one push, at most {max_records:,}; "
            "push them in several"
        ]
    return []
