"""Strings a payload may hold: sendable on (JSON, HTTP, logs) and of sensible length.

A lone surrogate cannot be encoded as UTF-8, so a payload holding one would
fail at every later step (the submit, the log line, the report); control
characters have no place in names, keys or paths. Both are refused at the
door, and messages show such text escaped, never raw.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import cache

from workers.objects import SPECS

# The longest value each string field every load has may hold (names as the payload
# spells them); an object type's own text fields declare theirs in its spec.
FIELD_LIMITS = {
    "source": 4096,  # a local path (PATH_MAX); an S3 key is held to its 1,024 bytes
    "object": 32,
    "format": 32,
    "inputFormat": 32,
    "encoding": 64,
    "api": 32,
    "idempotencyKey": 200,
    "callback": 255,
    "callbackQueue": 200,
    "mapping entries": 1000,  # columns a mapping may name
    "mapping column": 1024,  # a source column's name
    "mapping target": 255,  # a Marketo field's name
}
SHOWN_MAX = 60


@cache
def field_limits() -> Mapping[str, int]:
    """Every string field's longest value: the common fields' and each object type's."""
    own = {
        field.alias: field.max_length
        for spec in SPECS
        for field in spec.fields
        if field.max_length is not None
    }
    return {**FIELD_LIMITS, **own}


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _bad(char: str) -> bool:
    return unicodedata.category(char) in ("Cs", "Cc")


def unsendable(text: str) -> str | None:
    """Why ``text`` cannot be sent on, naming the first bad character and its position."""
    for position, char in enumerate(text, start=1):
        category = unicodedata.category(char)
        if category == "Cs":
            return f"contains a lone surrogate ({_escaped(char)}) at character {position}"
        if category == "Cc":
            return f"contains a control character ({_escaped(char)}) at character {position}"
    return None


def shown(text: str, *, quote: bool = True, limit: int = SHOWN_MAX) -> str:
    """``text`` for a message: bad characters escaped, cut to ``limit`` characters."""
    cut = text if len(text) <= limit else text[:limit] + "..."
    safe = "".join(_escaped(c) if _bad(c) else c for c in cut)
    return f'"{safe}"' if quote else safe
