"""Sandbox configuration: runtime knobs (patchable) and object definitions (fixed at start).

The knobs live in one frozen dataclass so a PATCH builds a new, fully validated
value or fails as a whole; the object definitions come from the same JSON file
and never change while the server runs, so row validation can run without a lock.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from infra.sandbox.channels import ChannelDef, ProgramDef, parse_programs
from infra.sandbox.ingestion.settings import IngestionConfigError, IngestionSettings

FAULT_KEYS = ("606", "615", "604", "5xx", "slow", "drop", "job_failed")
DATA_TYPES = {
    "string", "text", "email", "phone", "url", "integer", "float", "currency",
    "boolean", "date", "datetime", "reference",
}  # fmt: skip


class ConfigError(ValueError):
    """A config file or PATCH body that does not validate; the message says which key."""


@dataclass(frozen=True)
class FaultRates:
    """Probabilities (0..1) of each injected fault per API call, from a seeded RNG."""

    rates: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FAULT_KEYS, 0.0))
    slow_seconds: float = 2.0
    seed: int = 1

    def to_json(self) -> dict[str, Any]:
        return {**self.rates, "slow_seconds": self.slow_seconds, "seed": self.seed}

    def patched(self, patch: Any) -> FaultRates:
        if not isinstance(patch, dict):
            raise ConfigError("faults must be an object")
        rates = dict(self.rates)
        slow_seconds, seed = self.slow_seconds, self.seed
        for key, value in patch.items():
            if key in FAULT_KEYS:
                rate = _number(f"faults.{key}", value)
                if not 0.0 <= rate <= 1.0:
                    raise ConfigError(f"faults.{key} must be between 0 and 1")
                rates[key] = rate
            elif key == "slow_seconds":
                slow_seconds = _number("faults.slow_seconds", value, minimum=0.0)
            elif key == "seed":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ConfigError("faults.seed must be an integer")
                seed = value
            else:
                raise ConfigError(f"unknown setting 'faults.{key}'")
        return FaultRates(rates, slow_seconds, seed)


@dataclass(frozen=True)
class Settings:
    """Every runtime knob of the sandbox; `GET/PATCH /_sandbox/config` shows and edits these."""

    token_ttl: float = 3600.0
    rate_limit_calls: int = 100
    rate_limit_window: float = 20.0
    max_concurrent_calls: int = 10
    daily_quota: int = 50_000
    quota_timezone: str = "America/Chicago"
    max_importing: int = 2
    max_outstanding: int = 10
    shared_queue: bool = True
    import_overhead_s: float = 0.2
    import_rows_per_s: float = 100_000.0
    max_file_bytes: int = 10_000_000
    batch_ttl_s: float = 7 * 24 * 3600.0
    faults: FaultRates = field(default_factory=FaultRates)
    ingestion: IngestionSettings = field(default_factory=IngestionSettings)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["faults"] = self.faults.to_json()
        data["ingestion"] = self.ingestion.to_json()
        return data

    def patched(self, patch: Any) -> Settings:
        """A new Settings with ``patch`` merged in; raises ConfigError naming a bad key."""
        if not isinstance(patch, dict):
            raise ConfigError("config must be a JSON object")
        changes: dict[str, Any] = {}
        known = {f.name: f for f in fields(self)}
        for key, value in patch.items():
            if key not in known:
                raise ConfigError(f"unknown setting '{key}'")
            if key == "faults":
                changes[key] = self.faults.patched(value)
            elif key == "ingestion":
                try:
                    changes[key] = self.ingestion.patched(value)
                except IngestionConfigError as failure:
                    raise ConfigError(str(failure)) from failure
            elif key == "shared_queue":
                if not isinstance(value, bool):
                    raise ConfigError("shared_queue must be true or false")
                changes[key] = value
            elif key == "quota_timezone":
                try:
                    ZoneInfo(str(value))
                except (ZoneInfoNotFoundError, ValueError) as error:
                    raise ConfigError(f"quota_timezone: unknown time zone {value!r}") from error
                changes[key] = str(value)
            elif key in _INT_KEYS:
                if isinstance(value, bool) or not isinstance(value, int) or value < _INT_KEYS[key]:
                    raise ConfigError(f"{key} must be an integer >= {_INT_KEYS[key]}")
                changes[key] = value
            else:
                minimum, strict = _FLOAT_KEYS[key]
                number = _number(key, value, minimum=minimum)
                if strict and number <= minimum:
                    raise ConfigError(f"{key} must be > {minimum}")
                changes[key] = number
        updated = replace(self, **changes)
        if updated.max_importing > updated.max_outstanding:
            raise ConfigError("max_importing must not exceed max_outstanding")
        return updated


_INT_KEYS = {
    "rate_limit_calls": 1, "max_concurrent_calls": 1, "daily_quota": 0,
    "max_importing": 1, "max_outstanding": 1, "max_file_bytes": 1,
}  # fmt: skip
_FLOAT_KEYS = {  # name: (minimum, strictly greater)
    "token_ttl": (0.0, True), "rate_limit_window": (0.0, True), "import_overhead_s": (0.0, False),
    "import_rows_per_s": (0.0, True), "batch_ttl_s": (0.0, True),
}  # fmt: skip


def _number(key: str, value: Any, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key} must be a number")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{key} must be >= {minimum}")
    return float(value)


@dataclass(frozen=True)
class FieldDef:
    """One field of an object: what the describe endpoints show and the row rules check."""

    name: str
    display_name: str
    data_type: str
    length: int | None = None
    updateable: bool = True
    lookup: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FieldDef:
        data_type = str(data["dataType"])
        if data_type not in DATA_TYPES:
            raise ConfigError(f"field {data.get('name')!r}: unknown dataType {data_type!r}")
        length = data.get("length")
        return cls(
            name=str(data["name"]),
            display_name=str(data.get("displayName", data["name"])),
            data_type=data_type,
            length=int(length) if length is not None else None,
            updateable=bool(data.get("updateable", True)),
            lookup=bool(data.get("lookup", False)),
        )


@dataclass(frozen=True)
class CustomObjectDef:
    name: str
    display_name: str
    plural_name: str
    description: str
    dedupe_fields: tuple[str, ...]
    fields: tuple[FieldDef, ...]


@dataclass(frozen=True)
class Schema:
    """The instance's object definitions (leads, lists, partitions, custom objects, programs,
    companies)."""

    scope: str
    lead_fields: tuple[FieldDef, ...]
    static_lists: dict[int, str]
    partitions: tuple[str, ...]
    custom_objects: dict[str, CustomObjectDef]
    member_fields: tuple[FieldDef, ...]
    programs: dict[int, ProgramDef]
    channels: dict[str, ChannelDef] = field(default_factory=dict)
    company_fields: tuple[FieldDef, ...] = ()

    def lead_field(self, name: str) -> FieldDef | None:
        return next((f for f in self.lead_fields if f.name == name), None)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schema:
        try:
            leads, members = data["leads"], data["program_members"]
            objects = {}
            for obj in data["custom_objects"]:
                defs = tuple(FieldDef.from_json(f) for f in obj["fields"])
                names = {f.name for f in defs}
                dedupe = tuple(obj["dedupeFields"])
                if not dedupe or not set(dedupe) <= names:
                    raise ConfigError(f"custom object {obj['name']}: bad dedupeFields")
                objects[obj["name"]] = CustomObjectDef(
                    obj["name"], obj.get("displayName", obj["name"]),
                    obj.get("pluralName", obj["name"]), obj.get("description", ""), dedupe, defs,
                )  # fmt: skip
            channels, programs = parse_programs(members)
            return cls(
                scope=str(data.get("scope", "sandbox-api-user@mkto-bulk.local")),
                lead_fields=tuple(FieldDef.from_json(f) for f in leads["fields"]),
                static_lists={int(x["id"]): str(x["name"]) for x in leads.get("static_lists", [])},
                partitions=tuple(leads.get("partitions", ["Default"])),
                custom_objects=objects,
                member_fields=tuple(FieldDef.from_json(f) for f in members["fields"]),
                programs=programs,
                channels=channels,
                company_fields=tuple(
                    FieldDef.from_json(f) for f in data.get("companies", {}).get("fields", [])
                ),
            )
        except ConfigError:
            raise
        except ValueError as error:  # ChannelConfigError, or a number that is not one
            raise ConfigError(f"bad object definitions: {error}") from error
        except (KeyError, TypeError) as error:
            raise ConfigError(f"bad object definitions: missing or invalid {error}") from error


def default_config() -> dict[str, Any]:
    text = resources.files("infra.sandbox").joinpath("default_config.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def load_config(path: Path | None) -> tuple[Settings, Schema]:
    """Defaults, overlaid by ``path``: its "settings" merge key by key, other sections replace."""
    data = default_config()
    settings = Settings().patched(data.get("settings", {}))
    if path is not None:
        try:
            override = json.loads(path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(f"cannot read config {path}: {error}") from error
        if not isinstance(override, dict):
            raise ConfigError(f"config {path} must hold a JSON object")
        settings = settings.patched(override.pop("settings", {}))
        data.update(override)
    return settings, Schema.from_json(data)
