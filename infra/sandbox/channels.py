"""Programs and their channels: one definition for the Asset endpoints and the member import.

In Marketo a program's member statuses are its channel's progression
statuses, so a program names a channel and the import accepts exactly that
channel's statuses. A program may still list ``statuses`` itself (older
config files); it then gets a channel of its own under its channel name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_DEFINED_AT = "2024-01-15T10:00:00Z+0000"


class ChannelConfigError(ValueError):
    """A channel or program definition that does not validate (config.py wraps it)."""


@dataclass(frozen=True)
class StatusDef:
    """One progression status: its name, step (sort order), and whether it counts as success."""

    name: str
    step: int
    success: bool = False
    hidden: bool = False
    description: str | None = None


@dataclass(frozen=True)
class ChannelDef:
    id: int
    name: str
    program_type: str  # applicableProgramType: "program", "event", "email", ...
    statuses: tuple[StatusDef, ...]

    @property
    def status_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.statuses)


@dataclass(frozen=True)
class ProgramDef:
    id: int
    name: str
    channel: str
    statuses: tuple[str, ...]
    type: str = "Default"
    workspace: str = "Default"


def _status(raw: Any) -> StatusDef:
    if isinstance(raw, str):
        return StatusDef(raw, 0)
    return StatusDef(
        name=str(raw["name"]),
        step=int(raw.get("step", 0)),
        success=bool(raw.get("success", False)),
        hidden=bool(raw.get("hidden", False)),
        description=raw.get("description"),
    )


def parse_programs(members: dict[str, Any]) -> tuple[dict[str, ChannelDef], dict[int, ProgramDef]]:
    """The ``channels`` and ``programs`` of the ``program_members`` config section."""
    channels: dict[str, ChannelDef] = {}
    for raw in members.get("channels", []):
        name = str(raw["name"])
        statuses = tuple(_status(s) for s in raw["progressionStatuses"])
        channels[name] = ChannelDef(
            len(channels) + 1, name, str(raw.get("applicableProgramType", "program")), statuses
        )
    programs: dict[int, ProgramDef] = {}
    for raw in members["programs"]:
        program_id, name = int(raw["id"]), str(raw["name"])
        channel = str(raw.get("channel") or f"{name} channel")
        if "statuses" in raw:
            own = tuple(_status(s) for s in raw["statuses"])
            known = channels.get(channel)
            if known is not None and known.statuses != own:
                raise ChannelConfigError(
                    f"program {program_id}: statuses differ from those of channel {channel!r}"
                )
            if known is None:
                channels[channel] = ChannelDef(len(channels) + 1, channel, "program", own)
        if channel not in channels:
            raise ChannelConfigError(f"program {program_id}: unknown channel {channel!r}")
        programs[program_id] = ProgramDef(
            program_id,
            name,
            channel,
            channels[channel].status_names,
            str(raw.get("type", "Default")),
            str(raw.get("workspace", "Default")),
        )
    return channels, programs


def program_json(program: ProgramDef) -> dict[str, Any]:
    """``GET /rest/asset/v1/program/{id}.json``: one ``ProgramResponse``."""
    return {
        "id": program.id,
        "name": program.name,
        "description": "",
        "createdAt": _DEFINED_AT,
        "updatedAt": _DEFINED_AT,
        "url": f"https://app-sandbox.marketo.com/#PG{program.id}A1",
        "type": program.type,
        "channel": program.channel,
        "folder": {"type": "Folder", "value": 1000, "folderName": "Programs"},
        "status": "",
        "workspace": program.workspace,
        "tags": [],
        "costs": None,
    }


def channel_json(channel: ChannelDef) -> dict[str, Any]:
    """``GET /rest/asset/v1/channel/byName.json``: one ``ChannelResponse``."""
    return {
        "id": channel.id,
        "name": channel.name,
        "applicableProgramType": channel.program_type,
        "progressionStatuses": [
            {
                "name": s.name,
                "step": s.step,
                "description": s.description,
                "hidden": s.hidden,
                "success": s.success,
            }
            for s in channel.statuses
        ],
        "createdAt": _DEFINED_AT,
        "updatedAt": _DEFINED_AT,
    }
