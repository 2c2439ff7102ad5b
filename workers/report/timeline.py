"""A load's timeline from its ledger records: each chunk's spans, Marketo's slots, rates.

Pure arithmetic over :class:`Load` and :class:`Chunk` (no I/O), so the HTML
report draws what this computes and the unit tests check it with made-up records.

A chunk's spans are those of its latest job (a retried chunk's earlier jobs
count in its wait):

- **wait**: split (``created_at``) until Marketo gave the job its id (``submitted_at``);
- **queued**: until the job started importing (``importing_since``: the first poll
  that saw it ``Importing``, or the poll that saw a slot free up ahead of it);
- **importing**: until a poll saw it end (``finished_at``).

Marketo runs two imports at a time per instance, first in first out, so each
importing span is drawn in one of two slot lanes. A job no poll saw importing
(it went from ``Queued`` to ``Complete`` between two polls) is taken to have
started when a slot was free after its submission, and to have taken at least as
long as the quickest import that was seen; its start is marked estimated.
Other loads' jobs on the same instance also take slots and are not in the ledger
of this one, so a lane shows this load's imports only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workers.state.records import TERMINAL_CHUNK_STATES, Chunk, Load

# Marketo's import slots per instance (bulk import); an API without a queue has none.
MARKETO_IMPORT_SLOTS = 2


@dataclass(frozen=True)
class Span:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class ChunkTimes:
    """One chunk on the timeline; a span is None when the chunk never got there."""

    index: int
    wait: Span | None
    queued: Span | None
    importing: Span | None
    start_estimated: bool = False  # no poll saw its job importing
    lane: int | None = None  # the Marketo import slot its import is drawn in


@dataclass(frozen=True)
class Timeline:
    start: float
    end: float
    slots: int  # slot lanes drawn (0: the API has no import queue)
    chunks: tuple[ChunkTimes, ...]
    peak_outstanding: int  # most of this load's jobs submitted and not yet finished at once
    busy_s: float  # time during which at least one of its imports ran
    slot_s: float  # importing time added over its jobs

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)

    @property
    def slot_use(self) -> float | None:
        """Share of the slots' time its imports used, from the first import's start to the
        last one's end; None without imports."""
        spans = [c.importing for c in self.chunks if c.importing]
        if not spans or not self.slots:
            return None
        window = max(s.end for s in spans) - min(s.start for s in spans)
        return min(1.0, self.slot_s / (self.slots * window)) if window > 0 else None


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _spans(c: Chunk, end: float) -> tuple[Span, float | None, float | None]:
    """The wait span, and the job's submit and finish times (None when it has none)."""
    submitted = c.submitted_at if c.batch_id is not None else None
    if submitted is None:
        stop = _first(c.finished_at, c.updated_at) or end
        return Span(c.created_at, max(c.created_at, stop)), None, None
    terminal = c.state in TERMINAL_CHUNK_STATES
    finished = _first(c.finished_at, c.updated_at if terminal else None)
    return Span(c.created_at, max(c.created_at, submitted)), submitted, finished


def _seen_importing(c: Chunk, submitted: float, finished: float) -> float | None:
    """When a poll saw the job importing (or a slot free up ahead of it), if it is plausible."""
    seen = c.importing_since
    return seen if seen is not None and submitted <= seen <= finished else None


def build_timeline(
    load: Load, chunks: Sequence[Chunk], *, slots: int, finished_at: float | None
) -> Timeline:
    """The load's timeline; ``slots`` lanes (0 for an API without Marketo's import queue)."""
    end = _first(finished_at, load.finished_at, load.updated_at) or load.created_at
    end = max([end, *(c.finished_at or c.updated_at for c in chunks)])
    placed: list[ChunkTimes] = []
    jobs: list[tuple[float, float, Chunk, Span]] = []
    for c in chunks:
        wait, submitted, finished = _spans(c, end)
        if submitted is None:
            placed.append(ChunkTimes(c.index, wait, None, None))
        elif finished is None:  # still in Marketo (a load read while it runs)
            placed.append(ChunkTimes(c.index, wait, Span(submitted, end), None))
        else:
            jobs.append((submitted, max(submitted, finished), c, wait))
    seen = [(f, _seen_importing(c, s, f)) for s, f, c, _ in jobs]
    quickest = min([f - at for f, at in seen if at is not None and f > at], default=0.0)
    lane_free = [load.created_at] * slots
    started = load.created_at  # FIFO: no job starts before one submitted ahead of it
    for submitted, finished, c, wait in sorted(jobs, key=lambda j: (j[0], j[2].index)):
        at = _seen_importing(c, submitted, finished)
        estimated = at is None
        start = submitted if at is None else at
        lane = None
        if slots:
            free = [i for i, at in enumerate(lane_free) if at <= start]
            lane = free[0] if free else min(range(slots), key=lane_free.__getitem__)
            if estimated:  # it started once a slot was free after its submission
                start = max(start, lane_free[lane], started)
            lane_free[lane] = max(lane_free[lane], finished)
        if estimated:  # polls lag behind the imports they see end: as long as the quickest
            start = max(submitted, min(start, finished - quickest))
        start = min(start, finished)
        started = max(started, start)
        queued, importing = Span(submitted, start), Span(start, finished)
        placed.append(ChunkTimes(c.index, wait, queued, importing, estimated, lane))
    placed.sort(key=lambda t: t.index)
    importing_spans = [t.importing for t in placed if t.importing]
    return Timeline(
        start=min([load.created_at, *(c.created_at for c in chunks)]),
        end=end,
        slots=slots,
        chunks=tuple(placed),
        peak_outstanding=_peak(placed),
        busy_s=_union_seconds(importing_spans),
        slot_s=sum(s.seconds for s in importing_spans),
    )


def _peak(placed: Sequence[ChunkTimes]) -> int:
    """Most jobs outstanding (submitted, not yet seen finished) at one time."""
    events: list[tuple[float, int]] = []
    for t in placed:
        begin = t.queued or t.importing
        if begin is None:
            continue
        stop = (t.importing or begin).end
        events += [(begin.start, 1), (stop, -1)]
    peak = now = 0
    for _, step in sorted(events):  # at a tie an end (-1) comes before a start
        now += step
        peak = max(peak, now)
    return peak


def _union_seconds(spans: Sequence[Span]) -> float:
    total = 0.0
    reach: float | None = None
    for s in sorted(spans, key=lambda s: s.start):
        if reach is None or s.start > reach:
            total += s.seconds
            reach = s.end
        elif s.end > reach:
            total += s.end - reach
            reach = s.end
    return total
