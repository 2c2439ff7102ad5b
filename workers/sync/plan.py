"""Whether a sync is full, and why; and the ``sync`` section of the load's report."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from workers.objects import REGISTRY
from workers.sync.diff import DiffCounts
from workers.sync.fingerprint import params_hash
from workers.sync.store import Current

if TYPE_CHECKING:
    from workers.load_request import LoadRequest

# Why a sync sends every row.
FIRST = "first sync of this key (no state yet)"
ASKED = "asked for (full: true)"
PARAMETERS = "the mapping or the object's parameters changed since the last sync"


def sync_parameters(request: LoadRequest) -> dict[str, Any]:
    """What decides how rows are written and imported: the object, its own fields, the
    mapping and the import API. Not the source, its format or encoding, nor the key."""
    spec = REGISTRY[request.object]
    fields = {field.alias: request.option(field) for field in spec.fields}
    return {
        "object": request.object.value,
        "fields": {name: value for name, value in fields.items() if value is not None},
        "mapping": dict(request.mapping),
        "api": request.api,
    }


@dataclass(frozen=True)
class SyncPlan:
    """How this load syncs: against which generation, full or not and why."""

    sync_key: str
    params_hash: str
    generation_read: int | None
    full: bool
    full_reason: str | None

    @property
    def keeps_old(self) -> bool:
        """Whether unsynced rows keep their old fingerprints in the next state (not after
        a parameter change: those fingerprints mean something else now)."""
        return self.full_reason != PARAMETERS


def plan_sync(request: LoadRequest, current: Current | None) -> SyncPlan:
    """The plan of a load with a sync key, given the state its last sync left."""
    assert request.sync_key is not None, "plan_sync is for loads with a sync key"
    digest = params_hash(sync_parameters(request))
    reason = None
    if current is None:
        reason = FIRST
    elif request.full:
        reason = ASKED
    elif current.params_hash != digest:
        reason = PARAMETERS
    generation = current.generation if current else None
    return SyncPlan(request.sync_key, digest, generation, reason is not None, reason)


def sync_report(
    plan: SyncPlan, counts: DiffCounts, generation_written: int | None
) -> dict[str, Any]:
    """The report's ``sync`` section."""
    return {
        "sync_key": plan.sync_key,
        "generation_read": plan.generation_read,
        "generation_written": generation_written,
        "full": plan.full,
        "full_reason": plan.full_reason,
        **asdict(counts),
    }
