"""The timeline as inline SVG: Marketo's import slots, then one row per chunk.

Every element a reader (or a test) may look for carries data attributes:
``data-lane`` on each slot lane, ``data-slot-chunk`` on each import drawn in a
lane, ``data-chunk`` (and ``data-state``) on each chunk's row, ``data-span`` on
each of its spans. Text is escaped; tooltips are SVG ``<title>`` elements, so
the page needs no script.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from workers.report.timeline import ChunkTimes, Span, Timeline

WIDTH = 1100  # the viewBox; the page scales it to the window
LEFT = 96  # the labels' column
PLOT = WIDTH - LEFT - 30
AXIS_H = 26
LANE_H = 24
GAP = 18
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)


def duration(seconds: float) -> str:
    """``12.3 s``, ``4 m 05 s``, ``2 h 03 m``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} m {whole % 60:02d} s"
    return f"{whole // 3600} h {whole // 60 % 60:02d} m"


def _offset(seconds: float, step: int) -> str:
    whole = round(seconds)
    if step >= 3600 or whole >= 3600:
        return f"+{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
    return f"+{whole // 60}:{whole % 60:02d}"


def _row_height(chunks: int) -> float:
    """Rows shrink as chunks grow, down to 3 px (a 10,000-chunk load is still one picture)."""
    return max(3.0, min(16.0, 640.0 / max(1, chunks)))


class _Scale:
    def __init__(self, timeline: Timeline) -> None:
        self.start = timeline.start
        self.seconds = max(timeline.seconds, 1.0)

    def x(self, at: float) -> float:
        return LEFT + PLOT * min(1.0, max(0.0, (at - self.start) / self.seconds))

    def width(self, span: Span) -> float:
        return max(1.0, self.x(span.end) - self.x(span.start))


def _rect(scale: _Scale, span: Span, y: float, h: float, cls: str, extra: str, tip: str) -> str:
    x = scale.x(span.start)
    return (
        f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{scale.width(span):.1f}" '
        f'height="{h:.1f}"{extra}><title>{escape(tip)}</title></rect>'
    )


def _axis(scale: _Scale, bottom: float) -> list[str]:
    step = next((s for s in _STEPS if scale.seconds / s <= 10), _STEPS[-1])
    parts = []
    tick = 0
    while tick <= scale.seconds + 1e-9:
        x = scale.x(scale.start + tick)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{AXIS_H - 6}" x2="{x:.1f}" y2="{bottom:.1f}"/>'
            f'<text class="tick" x="{x:.1f}" y="{AXIS_H - 10}">{_offset(tick, step)}</text>'
        )
        tick += step
    return parts


def _tip(t: ChunkTimes, rows: Mapping[int, int]) -> str:
    parts = [f"chunk {t.index}: {rows.get(t.index, 0):,} rows"]
    for name, span in (("waited", t.wait), ("queued", t.queued), ("imported", t.importing)):
        if span is not None:
            parts.append(f"{name} {duration(span.seconds)}")
    if t.start_estimated and t.importing is not None:
        parts.append("(import start estimated)")
    return ", ".join(parts)


def timeline_svg(timeline: Timeline, rows: Mapping[int, int], states: Mapping[int, str]) -> str:
    """The whole timeline as one ``<svg>``; ``rows`` and ``states`` are per chunk index."""
    scale = _Scale(timeline)
    row_h = _row_height(len(timeline.chunks))
    lanes_top = AXIS_H + 16
    chunks_top = lanes_top + timeline.slots * LANE_H + (GAP + 16 if timeline.slots else 0)
    height = chunks_top + row_h * len(timeline.chunks) + 8
    body: list[str] = _axis(scale, height - 4)
    if timeline.slots:
        body.append(
            f'<text class="section" x="4" y="{lanes_top - 4}">Marketo import slots '
            "(this load's jobs)</text>"
        )
    for lane in range(timeline.slots):
        top = lanes_top + lane * LANE_H
        body.append(f'<g class="lane" data-lane="{lane}">')
        body.append(
            f'<rect class="lane-bg" x="{LEFT}" y="{top + 2}" width="{PLOT}" height="{LANE_H - 4}"/>'
            f'<text class="label" x="4" y="{top + LANE_H / 2 + 4}">slot {lane + 1}</text>'
        )
        for t in timeline.chunks:
            if t.lane != lane or t.importing is None:
                continue
            extra = f' data-slot-chunk="{t.index}"'
            cls = "importing estimated" if t.start_estimated else "importing"
            body.append(_rect(scale, t.importing, top + 3, LANE_H - 6, cls, extra, _tip(t, rows)))
            x = scale.x(t.importing.start)
            if scale.width(t.importing) >= 22:
                body.append(f'<text class="in-bar" x="{x + 3:.1f}" y="{top + 16}">{t.index}</text>')
        body.append("</g>")
    body.append(
        f'<text class="section" x="4" y="{chunks_top - 4}">Chunks: wait, queued in Marketo, '
        "importing</text>"
    )
    for row, t in enumerate(timeline.chunks):
        y = chunks_top + row * row_h
        state = escape(states.get(t.index, ""))
        body.append(f'<g class="chunk" data-chunk="{t.index}" data-state="{state}">')
        if row_h >= 9:
            body.append(f'<text class="label" x="4" y="{y + row_h - 3:.1f}">#{t.index}</text>')
        tip = _tip(t, rows)
        h = max(1.0, row_h - 1.5)
        for name, span in (("wait", t.wait), ("queued", t.queued), ("importing", t.importing)):
            if span is not None:
                extra = f' data-span="{name}"'
                body.append(_rect(scale, span, y, h, name, extra, tip))
        body.append("</g>")
    return (
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'aria-label="Load timeline" xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )
