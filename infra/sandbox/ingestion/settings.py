"""The Data Ingestion knobs: the ``ingestion`` object of ``GET/PATCH /_sandbox/config``.

Kept apart from config.py so the guardrails of the second API read as one
unit; config.py wraps :class:`IngestionConfigError` into its ConfigError.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Any

MUNCHKIN_PATTERN = re.compile(r"\d{3}-[A-Z]{3}-\d{3}")


class IngestionConfigError(ValueError):
    """An ``ingestion`` setting that does not validate; the message names the key."""


@dataclass(frozen=True)
class IngestionSettings:
    """Defaults are data-ingestion.md's guardrails ("Limits"); 1 MB is read as 1,000,000 bytes,
    the stricter reading, as the bulk file limit of 10 MB is 10,000,000 bytes."""

    munchkin_id: str = "123-ABC-456"
    entitled: bool = True
    apply_delay_s: float = 1.0
    max_body_bytes: int = 1_000_000
    max_objects_per_request: int = 1000
    requests_per_second: int = 5000
    daily_objects: int = 10_000_000

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def patched(self, patch: Any) -> IngestionSettings:
        if not isinstance(patch, dict):
            raise IngestionConfigError("ingestion must be an object")
        changes: dict[str, Any] = {}
        for key, value in patch.items():
            name = f"ingestion.{key}"
            if key == "munchkin_id":
                if not isinstance(value, str) or not MUNCHKIN_PATTERN.fullmatch(value):
                    raise IngestionConfigError(f"{name} must look like 123-ABC-456")
                changes[key] = value
            elif key == "entitled":
                if not isinstance(value, bool):
                    raise IngestionConfigError(f"{name} must be true or false")
                changes[key] = value
            elif key == "apply_delay_s":
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise IngestionConfigError(f"{name} must be a number >= 0")
                changes[key] = float(value)
            elif key in _MINIMUMS:
                low = _MINIMUMS[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < low:
                    raise IngestionConfigError(f"{name} must be an integer >= {low}")
                changes[key] = value
            else:
                raise IngestionConfigError(f"unknown setting '{name}'")
        return replace(self, **changes)


_MINIMUMS = {
    "max_body_bytes": 1, "max_objects_per_request": 1, "requests_per_second": 1,
    "daily_objects": 0,
}  # fmt: skip
