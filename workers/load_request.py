"""The payload that starts a load: validated once, at the door, with messages that name the field.

ETL systems send it as plain JSON (``send_task("mkto_bulk.start_load",
kwargs={...})``), so field names follow Marketo's own parameter names. What a
payload may make our workers do is bounded here: sources are ``s3://`` URIs
(local paths only behind ALLOW_LOCAL_SOURCES), a callback never names our own
tasks, Celery's built-ins or our queues, and every string can be sent on (no
lone surrogate, no control character, a sensible length).

It is over 300 lines on purpose: the model and the rule of each of its fields
read best side by side, as the one description of what a payload may hold.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from workers import defaults
from workers.errors import InputError
from workers.objects import REGISTRY, SPECS, ObjectType
from workers.objects.base import MAX_ID, PayloadField, V
from workers.payload_text import field_limits, shown, unsendable
from workers.priority import DEFAULT_PRIORITY, Priority
from workers.queues import queue_refusal

if TYPE_CHECKING:
    from workers.settings import Settings

# S3's own rules: bucket names, and keys of at most 1,024 bytes.
BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
S3_KEY_MAX_BYTES = 1024
LOCAL_PREFIXES = ("/", "./", "../", "file://")
URI_SHOWN = 1200  # a source is named in full in messages (its length is checked first)
SYNC_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TASK_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")
# Task names a callback may not use: our own tasks and Celery's built-ins.
RESERVED_TASK_PREFIXES = {"mkto_bulk.": "one of our own tasks", "celery.": "a Celery built-in task"}


class FileFormat(StrEnum):
    CSV = "csv"
    TSV = "tsv"
    SSV = "ssv"


@dataclass(frozen=True)
class RequestPolicy:
    """The deployment's rules for what a payload may ask (from the settings)."""

    allow_local_sources: bool = False
    callback_queues: frozenset[str] = frozenset()  # empty: any queue that is not ours

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestPolicy:
        return cls(settings.allow_local_sources, settings.callback_queue_allowlist)


def s3_uri_problem(uri: str) -> str | None:
    """Why ``uri`` is not a usable ``s3://bucket/key`` (or ``s3://bucket/prefix/``) source."""
    example = "write s3://bucket/key or s3://bucket/prefix/"
    bucket, slash, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        return f"{shown(uri, limit=URI_SHOWN)} names no bucket ({example})"
    if not BUCKET_PATTERN.match(bucket) or ".." in bucket:
        return (
            f"{shown(bucket)} is not a valid bucket name (3 to 63 lowercase letters, digits, "
            "'.' or '-', starting and ending with a letter or digit)"
        )
    if not slash or not key:
        return f"{shown(uri, limit=URI_SHOWN)} names no key or prefix ({example})"
    if len(key.encode("utf-8", "surrogatepass")) > S3_KEY_MAX_BYTES:
        return f"the key is longer than S3's {S3_KEY_MAX_BYTES:,} bytes"
    return None


def callback_problems(
    callback: str | None, queue: str | None, allowed: frozenset[str] = frozenset()
) -> list[str]:
    """Why a callback may not be sent as asked (empty: it may); each names its field."""
    problems = []
    if callback is not None:
        folded = callback.casefold()
        for prefix, what in RESERVED_TASK_PREFIXES.items():
            if folded.startswith(prefix) or folded == prefix.rstrip("."):
                problems.append(
                    f"callback: {shown(callback)} is {what} ({prefix}*); name the ETL's own task"
                )
        if not problems and not TASK_NAME_PATTERN.match(callback):
            problems.append(
                f"callback: {shown(callback)} is not a task name "
                "(letters, digits, '_', '.', ':' or '-')"
            )
        if queue is None:
            problems.append("callbackQueue: is required with a callback (the ETL's own queue)")
    elif queue is not None:
        problems.append("callbackQueue: only applies with a callback")
    if queue is not None:
        refusal = queue_refusal(queue)
        if refusal:
            problems.append(f"callbackQueue: {shown(queue)} {refusal}")
        elif allowed and queue not in allowed:
            names = ", ".join(sorted(allowed))
            problems.append(f"callbackQueue: {shown(queue)} is not in CALLBACK_QUEUES ({names})")
    return problems


_CONFIG = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _What(BaseModel):
    """The fields every load has that say what to read and what it is (first in the payload)."""

    model_config = _CONFIG

    source: str
    object: ObjectType
    format: FileFormat = FileFormat.CSV  # the files sent to Marketo
    input_format: FileFormat | None = Field(default=None, alias="inputFormat")  # the source's
    encoding: str | None = None  # the source's; None: UTF-8 (or as its BOM says)


def _object_field(field: PayloadField[Any]) -> tuple[Any, Any]:
    """The model field a type's payload field becomes (a text field's length is checked
    with every string's, in ``_every_string_can_be_sent``)."""
    if field.type is int:
        return (StrictInt | None, Field(default=None, alias=field.alias, gt=0, le=MAX_ID))
    return (str | None, Field(default=None, alias=field.alias))


# Each object type's own fields, from its spec, in registry order after the fields above.
if TYPE_CHECKING:
    _ObjectFields = _What  # spec code reads them typed: request.option(LIST_ID)
else:
    _ObjectFields = create_model(
        "_ObjectFields",
        __base__=_What,
        __module__=__name__,
        **{field.attr: _object_field(field) for spec in SPECS for field in spec.fields},
    )


class _How(BaseModel):
    """The fields every load has that say how to load it (last in the payload)."""

    model_config = _CONFIG

    mapping: dict[str, str | None] = Field(default_factory=dict)
    # The import API (workers.importers.IMPORTERS); None: the default, bulk import.
    api: str | None = None
    # Which loads get import permits first (workers/priority.py); None: normal.
    priority: Priority | None = None
    idempotency_key: str | None = Field(default=None, alias="idempotencyKey")
    callback: str | None = None
    # The ETL's own queue for the callback: never one of ours.
    callback_queue: str | None = Field(default=None, alias="callbackQueue")
    # Change-aware syncs (docs/etl/syncs.md): only rows changed since the last completed
    # sync of this key are sent; ``full`` sends every row and rebuilds the key's state.
    sync_key: str | None = Field(default=None, alias="syncKey")
    full: StrictBool | None = None  # None (left out of the payload's JSON): not full

    @field_validator("sync_key")
    @classmethod
    def _sync_key_is_a_name(cls, key: str | None) -> str | None:
        if key is not None and not SYNC_KEY_PATTERN.match(key):
            raise ValueError(
                f"{shown(key)} is not a sync key (letters, digits, '.', '_' or '-', up to 100, "
                "starting with a letter or digit)"
            )
        return key


class LoadRequest(_How, _ObjectFields):
    """What to load, where from, and how Marketo should import it.

    :func:`parse_load_request` checks a payload under the deployment's
    :class:`RequestPolicy`; validating a stored record without one (``Load.request``
    in ``workers.state.records``, for the chunk steps) leaves out the source and the
    callback queue list, checked at the door.

    Its fields, in payload order (the order of messages and of ``to_json``):
    ``_What``'s, then each object type's own (from its spec's ``fields``), then
    ``_How``'s. The bases' order makes that order: fields follow the reversed MRO.
    """

    model_config = _CONFIG

    @property
    def load_priority(self) -> Priority:
        """The priority its chunks wait with: the payload's, else ``normal``."""
        return self.priority or DEFAULT_PRIORITY

    def option(self, field: PayloadField[V]) -> V | None:
        """An object type's own field (e.g. ``request.option(LIST_ID)``), typed as declared."""
        value: V | None = getattr(self, field.attr)
        return value

    def required(self, field: PayloadField[V]) -> V:
        """A required field of this request's object type (validation made sure it is given)."""
        value = self.option(field)
        assert value is not None, f"{field.alias} is required by the request's object type"
        return value

    @model_validator(mode="before")
    @classmethod
    def _every_string_can_be_sent(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        aliases = {name: info.alias or name for name, info in cls.model_fields.items()}
        limits = field_limits()
        problems = []
        for key, value in data.items():
            if not isinstance(key, str):
                continue
            name = aliases.get(key, key)
            reason = unsendable(key)
            if reason:
                problems.append(f"field name {shown(key)}: {reason}")
            elif isinstance(value, str):
                problems.extend(_string_problems(name, value, limits.get(name)))
            elif name == "mapping" and isinstance(value, dict):
                problems.extend(_mapping_problems(value))
        if problems:
            raise ValueError("; ".join(problems))
        return data

    @field_validator("source")
    @classmethod
    def _source_is_in_our_lane(cls, source: str, info: ValidationInfo) -> str:
        policy = (info.context or {}).get("policy")
        if not isinstance(policy, RequestPolicy):
            return source  # a stored record: its source was checked when it was accepted
        if source.startswith("s3://"):
            problem = s3_uri_problem(source)
            if problem:
                raise ValueError(problem)
            return source
        if source.startswith(LOCAL_PREFIXES):
            if not policy.allow_local_sources:
                raise ValueError(
                    f"{shown(source, limit=URI_SHOWN)} is a local path; workers read only "
                    "s3:// sources (set ALLOW_LOCAL_SOURCES=true to allow local paths, "
                    "for development)"
                )
            return source
        raise ValueError("must be an s3://bucket/key URI")

    @field_validator("encoding")
    @classmethod
    def _encoding_is_a_text_codec(cls, encoding: str | None) -> str | None:
        if encoding is None:
            return None
        try:
            info = codecs.lookup(encoding)
        except LookupError:
            info = None
        if info is None or not getattr(info, "_is_text_encoding", True):
            raise ValueError(
                f"unknown encoding {shown(encoding)} "
                "(a Python codec name such as latin-1, cp1252 or utf-16)"
            )
        return encoding

    @model_validator(mode="after")
    def _parameters_fit_the_object(self, info: ValidationInfo) -> Self:
        values = vars(self)
        spec = REGISTRY[self.object]
        problem = spec.missing(values)
        # A field the load's own type declares too (shared by types) is not another type's.
        own = {field.attr for field in spec.fields}
        others = {name: value for name, value in values.items() if name not in own}
        refused = [m for other in SPECS if other is not spec for m in other.refused(others)]
        problem = problem or (refused[0] if refused else None) or spec.invalid(values)
        if problem:
            raise ValueError(problem)
        refusal = _api_refusal(self)
        if refusal:
            raise ValueError(refusal)
        policy = (info.context or {}).get("policy")
        allowed = policy.callback_queues if isinstance(policy, RequestPolicy) else frozenset()
        problems = callback_problems(self.callback, self.callback_queue, allowed)
        if self.full and self.sync_key is None:
            problems.append("full: only applies with a syncKey (a full sync of that key)")
        problems.extend(_sync_refusal(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def to_json(self) -> dict[str, Any]:
        """The payload as JSON values under its public (Marketo-style) names."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _api_refusal(request: LoadRequest) -> str | None:
    """Why the load's import API (bulk import when none is named) cannot take it: an
    unknown API, an object type the API does not import, or the object's parameters."""
    from workers.importers import IMPORTERS  # the importers pull in the Marketo client

    if request.api is not None and request.api not in IMPORTERS:
        return f"api: {shown(request.api)} is not an import API (one of {', '.join(IMPORTERS)})"
    return IMPORTERS[request.api or defaults.IMPORT_API].refusal(request)


def _sync_refusal(request: LoadRequest) -> list[str]:
    """Why a sync key cannot be served yet (see ``workers.sync.SYNCS_SERVED``)."""
    from workers import sync

    if request.sync_key is None or sync.SYNCS_SERVED:
        return []
    return [
        "syncKey: change-aware syncs are not served by this version yet (the load would "
        "send every row); leave syncKey out for a full load"
    ]


def _string_problems(name: str, value: str, limit: int | None) -> list[str]:
    if limit is not None and len(value) > limit:
        return [f"{name}: is {len(value):,} characters long (at most {limit:,})"]
    reason = unsendable(value)
    if reason:
        return [f"{name}: {reason}"]
    if limit is not None and not value:
        return [f"{name}: must not be empty"]
    return []


def _mapping_problems(mapping: dict[Any, Any]) -> list[str]:
    limits = field_limits()
    if len(mapping) > limits["mapping entries"]:
        return [f"mapping: has {len(mapping):,} columns (at most {limits['mapping entries']:,})"]
    problems = []
    for column, target in mapping.items():
        if not isinstance(column, str):
            continue
        found = _string_problems(
            f"mapping: column {shown(column)}", column, limits["mapping column"]
        )
        if not found and isinstance(target, str):
            found = _string_problems(f"mapping[{shown(column)}]", target, limits["mapping target"])
        problems.extend(found)
    return problems


def parse_load_request(payload: dict[str, Any], policy: RequestPolicy | None = None) -> LoadRequest:
    """Validate a start_load payload; InputError names every bad field.

    ``policy`` is the deployment's (:meth:`RequestPolicy.from_settings`); the
    default is the strictest: no local sources, any callback queue not ours.
    """
    try:
        return LoadRequest.model_validate(payload, context={"policy": policy or RequestPolicy()})
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = ".".join(shown(str(part), quote=False) for part in item["loc"])
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "missing":
                message = "is required"
            elif item["type"] == "extra_forbidden":
                message = "is not a known field"
            problems.append(f"{field}: {message}" if field else message)
        raise InputError("invalid load request: " + "; ".join(problems)) from None
