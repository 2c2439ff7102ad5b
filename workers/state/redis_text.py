"""Redis answers as text: redis-py hands back bytes unless a client was made to decode them.

Every module that reads names or hashes from Redis turns them into ``str`` here, so it
works with either kind of client (the workers' own, and a decoding one a caller made).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def text(value: Any) -> str:
    """One Redis value as text (bytes are UTF-8, as everything we write is)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def text_hash(raw: Mapping[Any, Any]) -> dict[str, str]:
    """An ``HGETALL`` answer as a dict of text."""
    return {text(key): text(value) for key, value in raw.items()}
