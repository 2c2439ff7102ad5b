"""A row's fingerprint: a 64-bit hash of its key and one of its mapped, normalised values.

Hashes are blake2b (8 bytes, little-endian), stable across processes and machines (Python's
``hash`` is salted per process). Normalising: each cell is stripped of surrounding
whitespace and put in Unicode NFC; the key is also case-folded, as Marketo matches lookup
values (an email address) without regard to case.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping, Sequence

SEPARATOR = "\x1f"  # between cells: a unit separator, never in a normalised cell's meaning


def _norm(cell: str) -> str:
    cell = cell.strip()
    return cell if cell.isascii() else unicodedata.normalize("NFC", cell)


def _h64(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def normal_key(key: str) -> str:
    """The key as it is matched: stripped, NFC, case-folded."""
    return _norm(key).casefold()


def key_hash(key: str) -> int:
    """The 64-bit hash of a row's lookup value."""
    return _h64(normal_key(key))


def row_hash(cells: Sequence[str]) -> int:
    """The 64-bit hash of a row's mapped cells (the record as written to the chunk)."""
    return _h64(SEPARATOR.join(_norm(cell) for cell in cells))


def params_hash(params: Mapping[str, object]) -> str:
    """A hash of what decides how rows are written and imported (mapping, object parameters):
    a change of any of them forces a full sync."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
