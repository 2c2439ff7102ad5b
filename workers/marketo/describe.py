"""Describe calls (which fields an object has), cached in Redis for a day.

Field lists change rarely and Marketo recommends caching them; a load checks
every file header against them, so without a shared cache each chunk would
spend a call of the daily quota on the same answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workers.marketo import metrics as m
from workers.marketo.core import MarketoCore
from workers.state import keys as redis_keys

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldInfo:
    """One field as Marketo describes it (``name`` is the REST API name used in file headers)."""

    name: str
    data_type: str | None = None
    display_name: str | None = None
    length: int | None = None
    updateable: bool | None = None


@dataclass(frozen=True)
class Description:
    """An object's fields, plus its id and dedupe fields where Marketo reports them."""

    object_name: str
    fields: tuple[FieldInfo, ...]
    id_field: str | None = None
    dedupe_fields: tuple[str, ...] = ()
    raw: list[Any] = field(default_factory=list, repr=False, compare=False)

    @property
    def field_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)

    def field(self, name: str) -> FieldInfo | None:
        return next((f for f in self.fields if f.name == name), None)

    def merged(self, other: Description, object_name: str) -> Description:
        """Both field sets (first wins on a name clash), e.g. lead fields and an object's own."""
        seen = self.field_names
        extra = tuple(f for f in other.fields if f.name not in seen)
        return Description(object_name, self.fields + extra, self.id_field, self.dedupe_fields)


def parse_description(object_name: str, result: list[Any]) -> Description:
    """Read a describe ``result`` in any of its shapes (lead describe, describe2, objects)."""
    fields: list[FieldInfo] = []
    id_field: str | None = None
    dedupe: tuple[str, ...] = ()
    for item in result:
        if not isinstance(item, Mapping):
            continue
        if isinstance(item.get("rest"), Mapping):  # /leads/describe.json: one item per field
            rest = item["rest"]
            read_only = rest.get("readOnly")
            fields.append(
                FieldInfo(
                    name=str(rest["name"]),
                    data_type=item.get("dataType"),
                    display_name=item.get("displayName"),
                    length=item.get("length"),
                    updateable=None if read_only is None else not read_only,
                )
            )
            continue
        id_field = id_field or item.get("idField")
        dedupe = dedupe or _names(item.get("dedupeFields"))
        for entry in item.get("fields") or []:
            if isinstance(entry, Mapping) and entry.get("name"):
                fields.append(
                    FieldInfo(
                        name=str(entry["name"]),
                        data_type=entry.get("dataType"),
                        display_name=entry.get("displayName"),
                        length=entry.get("length"),
                        updateable=entry.get("updateable"),
                    )
                )
    return Description(object_name, tuple(fields), id_field, dedupe, list(result))


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        flat: list[str] = []
        for entry in value:  # dedupeFields may be ["a"] or [["a", "b"]]
            flat.extend(str(x) for x in (entry if isinstance(entry, list) else [entry]))
        return tuple(flat)
    return ()


class Describes(MarketoCore):
    """Describe calls through a 24 h Redis cache; each object type's spec names its own."""

    # The lead database's describe is Marketo's, not one object type's: lead
    # imports and program member files (lead fields plus member fields) both use it.
    def describe_leads(self) -> Description:
        return self.describe_path("lead", "/rest/v1/leads/describe.json")

    def describe_leads2(self) -> Description:
        return self.describe_path("lead", "/rest/v1/leads/describe2.json")

    def describe_path(self, object_name: str, path: str) -> Description:
        """``GET path`` (a describe call), read as ``object_name``'s fields, cached by path."""
        key = self._describe_key(path)
        ttl = self.config.describe_ttl_s
        if ttl > 0:
            cached = self.redis.get(key)
            if cached is not None:
                self.metrics.incr(m.DESCRIBE_CACHE_HITS)
                return parse_description(object_name, json.loads(cached))
        envelope = self.request_json("GET", path)
        if ttl > 0:
            self.redis.set(key, json.dumps(envelope.result), ex=ttl)
        return parse_description(object_name, envelope.result)

    def forget_describes(self) -> int:
        """Drop every cached describe of this instance (after a schema change)."""
        keys = list(self.redis.scan_iter(match=self._describe_key("*")))
        return int(self.redis.delete(*keys)) if keys else 0

    def _describe_key(self, path: str) -> str:
        return redis_keys.describe_cache(self.config.instance, path)
