"""What a load names in Marketo, checked before anything is split or submitted.

A wrong list, partition, program or status (each object type's spec checks
its own parameters with these lookups) would otherwise surface only when each
chunk is submitted, once per chunk.
Answers come through the same call loop as every call (budgets, retries,
token) and are cached in Redis for an hour, since nightly loads name the same
lists and programs every time. Only answers that found something are cached,
and a value missing from a cached answer is looked up afresh, so a list or a
status created a minute ago never fails a load.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from workers.errors import MarketoPermanentError
from workers.marketo import metrics as m
from workers.marketo.core import MarketoCore
from workers.state import keys as redis_keys

logger = logging.getLogger(__name__)

NOT_FOUND_CODES = frozenset({"404", "702", "1013"})  # HTTP 404, "no data found", "not found"
ACCESS_DENIED = "603"  # the API user's role lacks the permission (e.g. Read-Only Assets)
KNOWN_SHOWN = 10  # at most this many valid names in a message


@dataclass(frozen=True)
class StaticList:
    id: int
    name: str


@dataclass(frozen=True)
class Program:
    id: int
    name: str
    channel: str


@dataclass(frozen=True)
class Channel:
    """A channel and its progression statuses: the statuses a member of its programs may have."""

    name: str
    statuses: tuple[str, ...]


def quoted(value: str) -> str:
    return f'"{value}"'


def hint(value: str, known: Sequence[str]) -> str:
    """``(did you mean "X"?)`` for a near miss, else ``(known: A, B)``."""
    lowered = {name.lower(): name for name in known}
    close = lowered.get(value.strip().lower())
    if close is None:
        match = difflib.get_close_matches(value.strip().lower(), list(lowered), n=1, cutoff=0.6)
        close = lowered[match[0]] if match else None
    if close is not None:
        return f" (did you mean {quoted(close)}?)"
    if not known:
        return " (none defined)"
    shown = ", ".join(known[:KNOWN_SHOWN]) + (", ..." if len(known) > KNOWN_SHOWN else "")
    return f" (known: {shown})"


class Lookups(MarketoCore):
    """Static lists, lead partitions, programs and channels, through a one-hour Redis cache."""

    def static_list(self, number: int, *, fresh: bool = False) -> StaticList | None:
        """``GET /rest/v1/lists/{id}.json``; None when Marketo has no such list."""
        for item in self._lookup(f"/rest/v1/lists/{int(number)}.json", fresh=fresh):
            if isinstance(item, Mapping) and item.get("id") is not None:
                return StaticList(int(item["id"]), str(item.get("name", "")))
        return None

    def lead_partitions(self, *, fresh: bool = False) -> tuple[str, ...]:
        """``GET /rest/v1/leads/partitions.json``: the names of every lead partition."""
        result = self._lookup("/rest/v1/leads/partitions.json", fresh=fresh)
        return tuple(str(p["name"]) for p in result if isinstance(p, Mapping) and "name" in p)

    def program(self, number: int, *, fresh: bool = False) -> Program | None:
        """``GET /rest/asset/v1/program/{id}.json``; None when Marketo has no such program."""
        for item in self._lookup(f"/rest/asset/v1/program/{int(number)}.json", fresh=fresh):
            if isinstance(item, Mapping) and item.get("id") is not None:
                channel = str(item.get("channel") or "")
                return Program(int(item["id"]), str(item.get("name", "")), channel)
        return None

    def channel(self, name: str, *, fresh: bool = False) -> Channel | None:
        """``GET /rest/asset/v1/channel/byName.json?name=``; None when there is no such channel."""
        result = self._lookup("/rest/asset/v1/channel/byName.json", {"name": name}, fresh=fresh)
        for item in result:
            if isinstance(item, Mapping) and item.get("name") == name:
                statuses = item.get("progressionStatuses") or []
                names = tuple(str(s["name"]) for s in statuses if isinstance(s, Mapping))
                return Channel(name, names)
        return None

    def forget_lookups(self) -> int:
        """Drop every cached lookup of this instance."""
        keys = list(self.redis.scan_iter(match=self._lookup_key("*")))
        return int(self.redis.delete(*keys)) if keys else 0

    # For the object types' checks ------------------------------------------
    def names_with(self, name: str, lookup: Callable[..., tuple[str, ...]]) -> tuple[str, ...]:
        """``lookup()``'s names, asked afresh when the cached answer lacks ``name``."""
        known = lookup()
        return known if name in known else lookup(fresh=True)

    def channel_with(self, name: str, status: str) -> Channel | None:
        """The channel ``name``, asked afresh when the cached answer lacks ``status``.

        None when there is no such channel (or no name: a program without a channel).
        """
        channel = self.channel(name) if name else None
        if name and (channel is None or status not in channel.statuses):
            channel = self.channel(name, fresh=True)
        return channel

    def unless_denied(self, parameter: str, check: Callable[[], None]) -> None:
        """Run ``check``; a lookup the API user may not make (603) only logs a warning.

        The import itself still checks the value, so a role without the
        permission (e.g. Read-Only Assets) does not stop the load.
        """
        try:
            check()
        except MarketoPermanentError as error:
            if error.code != ACCESS_DENIED:
                raise
            logger.warning(
                "cannot check %s before the import (Marketo %s: %s); the import will check it",
                parameter,
                error.code,
                error.message,
            )

    # Cache --------------------------------------------------------------
    def _lookup_key(self, path: str) -> str:
        return redis_keys.lookup_cache(self.config.instance, path)

    def _lookup(
        self, path: str, params: Mapping[str, str] | None = None, *, fresh: bool
    ) -> list[Any]:
        key = self._lookup_key(path + (f"?{urlencode(sorted(params.items()))}" if params else ""))
        ttl = self.config.lookup_ttl_s
        if ttl > 0 and not fresh:
            cached = self.redis.get(key)
            if cached is not None:
                self.metrics.incr(m.LOOKUP_CACHE_HITS)
                result: list[Any] = json.loads(cached)
                return result
        try:
            result = self.request_json("GET", path, params=params).result
        except MarketoPermanentError as error:
            if error.code in NOT_FOUND_CODES:
                return []
            raise
        if ttl > 0 and result:
            self.redis.set(key, json.dumps(result), ex=ttl)
        return result
