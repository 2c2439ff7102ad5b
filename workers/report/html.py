"""The load report as one self-contained HTML page (``report.html``).

Inline CSS and inline SVG only: no script, no font, no image, no link to fetch,
so it opens on a machine without a network, and its Content-Security-Policy
forbids anything else. Every text that comes from the load (file names,
reasons, messages, parameters) is HTML-escaped: a reason reading
``</script><script>alert(1)</script>`` shows as that text. The page holds what
the ledger holds and nothing of the worker's settings, so no secret or token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from functools import cache
from html import escape
from importlib import resources
from string import Template

from workers.report.reasons import Reasons
from workers.report.svg import duration, timeline_svg
from workers.report.timeline import ChunkTimes, Span, Timeline, build_timeline
from workers.state.records import Chunk, ChunkState, Load, LoadState


def e(value: object) -> str:
    """Any text from the load, escaped for HTML text and attribute values."""
    return escape(str(value), quote=True)


@cache
def _template() -> Template:
    return Template(resources.files("workers.report").joinpath("template.html").read_text("utf-8"))


def _utc(at: float | None) -> str:
    if not at:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def _n(value: int) -> str:
    return f"{value:,}"


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s" if seconds > 0 and rows else "-"


def _secs(span: Span | None) -> str:
    return "" if span is None else f"{span.seconds:.1f}"


def _card(value: str, label: str, title: str = "") -> str:
    tip = f' title="{e(title)}"' if title else ""
    return f'<div class="card"{tip}><b>{e(value)}</b><span>{e(label)}</span></div>'


def _table(head: Sequence[str], rows: Iterable[str], numeric: set[int]) -> str:
    cells = "".join(
        f"<th{' class=n' if i in numeric else ''}>{e(h)}</th>" for i, h in enumerate(head)
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _header(load: Load, state: str, finished_at: float | None, api: str) -> str:
    params = load.params
    end = finished_at or load.finished_at
    elapsed = duration(end - load.created_at) if end else "-"
    lines = [
        f'<h1>Load {e(load.load_id)} <span class="state {e(state)}">{e(state)}</span></h1>',
        f'<div class="sub">{e(params.get("object", ""))} from <code>{e(params.get("source", ""))}'
        f"</code> through the {e(api)} API</div>",
        f'<div class="sub">started {_utc(load.created_at)}, finished {_utc(end)} '
        f"({e(elapsed)})</div>",
    ]
    if load.error:
        lines.append(f'<div class="error" data-error>{e(load.error)}</div>')
    if load.last_error:
        lines.append(f'<div class="note">latest step error: {e(load.last_error)}</div>')
    return "\n".join(lines)


def _cards(load: Load, chunks: Sequence[Chunk], timeline: Timeline) -> str:
    slot_use = timeline.slot_use
    cards = [
        _card(_n(load.rows_read), "rows read"),
        _card(_n(load.rows_submitted), "rows submitted"),
        _card(_n(load.rows_processed), "rows processed"),
        _card(_n(load.rows_failed), "rows failed by Marketo"),
        _card(_n(load.rows_warned), "rows with warnings"),
        _card(_n(load.rows_rejected), "rows rejected by the split"),
        _card(_n(load.rows_in_failed_jobs), "rows in failed jobs"),
        _card(f"{len(chunks)}", "chunks", f"{load.chunks_done} done, {load.chunks_failed} failed"),
        _card(
            _rate(load.rows_processed, timeline.seconds),
            "end to end",
            "rows processed over the load's whole time, split to finish",
        ),
        _card(
            _rate(load.rows_processed, timeline.busy_s),
            "while importing",
            "rows processed over the time at least one of its jobs was importing",
        ),
        _card(
            "-" if slot_use is None else f"{slot_use:.0%}",
            "import slots used",
            "importing time over both slots' time, first import to last",
        ),
        _card(f"{timeline.peak_outstanding}", "peak outstanding jobs"),
        _card(
            _n(load.api_calls), "API calls", f"{load.api_calls / max(1, len(chunks)):.1f} a chunk"
        ),
        _card(
            f"{load.jobs_submitted}",
            "jobs submitted",
            f"{load.jobs_retried} retried, {load.too_many_imports} refused as too many imports, "
            f"{load.possible_double_submissions} possibly submitted twice, "
            f"{load.quota_waits} daily quota waits",
        ),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _legend(timeline: Timeline) -> str:
    keys = [("wait", "waiting for a permit and uploading"), ("queued", "queued in Marketo")]
    keys.append(("importing", "importing"))
    marks = "".join(f'<i style="background: var(--{k})"></i>{e(text)}' for k, text in keys)
    notes = ["Times are from the split of each chunk to the poll that saw its job end."]
    if timeline.slots:
        notes.append(
            "A lighter import started between two polls: its start is estimated from the "
            "slot it took. Other loads on the same instance share the slots and are not drawn."
        )
    else:
        notes.append("This API has no import queue: nothing waits for Marketo's two slots.")
    return f'<div class="legend">{marks}</div><p class="note">{e(" ".join(notes))}</p>'


def _reasons(reasons: Reasons | None, load: Load) -> str:
    if reasons is None or (not reasons.top and not reasons.unreadable):
        failed = load.rows_failed or load.rows_rejected
        return f'<p class="note">{"Reasons not read." if failed else "No row failed."}</p>'
    rows = [
        f'<tr data-reason><td class="n">{_n(r.rows)}</td><td>{e(r.origin)}</td>'
        f'<td class="text">{e(r.reason or "(no reason given)")}</td></tr>'
        for r in reasons.top
    ]
    bounded = " (reads are bounded: the first part of each file, up to a number of files)"
    note = (
        f"Counted in {_n(reasons.rows_counted)} rows of {reasons.files_read} of "
        f"{reasons.files_total} failure files{bounded if reasons.partial else ''}. "
        "The totals above are Marketo's counts."
    )
    unreadable = "".join(f'<p class="note">not read: {e(u)}</p>' for u in reasons.unreadable)
    return (
        _table(("rows", "from", "reason"), rows, {0})
        + f'<p class="note">{e(note)}</p>'
        + unreadable
    )


def _where(c: Chunk) -> str:
    if not c.first_source:
        return ""
    name = c.first_source.rsplit("/", 1)[-1]
    last = "" if c.last_source in (None, c.first_source) else f" to {c.last_source}"
    lines = f"{c.first_line}-{c.last_line}{last}"
    return f'<span title="{e(c.first_source)}">{e(name)}</span> {e(lines)}'


def _chunk_row(c: Chunk, t: ChunkTimes) -> str:
    imported = t.importing.seconds if t.importing else 0.0
    cls = ' class="failed"' if c.state == ChunkState.FAILED else ""
    message = c.message or ""
    if c.last_failure:
        message = f"{message} (previous job: {c.last_failure})"
    cells = [
        e(c.index), e(c.state.value), e(c.batch_id or ""), _n(c.rows), _n(c.processed),
        _n(c.failed), _n(c.warnings), e(c.attempts), _secs(t.wait), _secs(t.queued),
        _secs(t.importing), _rate(c.rows, imported).removesuffix(" rows/s"),
    ]  # fmt: skip
    numeric = "".join(f'<td class="n">{v}</td>' for v in cells[3:])
    return (
        f'<tr data-chunk-row="{e(c.index)}"{cls}><td class="n">{cells[0]}</td><td>{cells[1]}</td>'
        f"<td><code>{cells[2]}</code></td>{numeric}<td>{_where(c)}</td>"
        f'<td class="text">{e(message)}</td></tr>'
    )


def _chunks(chunks: Sequence[Chunk], timeline: Timeline) -> str:
    if not chunks:
        return '<p class="note">No chunk was written.</p>'
    times = {t.index: t for t in timeline.chunks}
    head = ("chunk", "state", "batch id", "rows", "processed", "failed", "warnings", "jobs",
            "wait s", "queued s", "importing s", "rows/s", "source lines", "message")  # fmt: skip
    rows = (_chunk_row(c, times[c.index]) for c in chunks)
    return _table(head, rows, set(range(3, 12)) | {0})


def _parameters(load: Load) -> str:
    rows = [
        f"<tr><td><code>{e(k)}</code></td><td class=text><code>{e(json.dumps(v))}</code></td></tr>"
        for k, v in sorted(load.params.items())
    ]
    return _table(("parameter", "value"), rows, set())


def render(
    load: Load,
    chunks: Sequence[Chunk],
    *,
    state: LoadState | str,
    finished_at: float | None,
    reasons: Reasons | None,
    api: str,
    slots: int,
    api_note: str | None = None,
) -> str:
    """The report page for ``load`` (its ``chunks`` in index order) as one HTML string."""
    state = str(state.value if isinstance(state, LoadState) else state)
    timeline = build_timeline(load, chunks, slots=slots, finished_at=finished_at)
    rows = {c.index: c.rows for c in chunks}
    states = {c.index: c.state.value for c in chunks}
    sections = [
        _header(load, state, finished_at, api),
        _cards(load, chunks, timeline),
        '<h2 id="timeline">Timeline</h2>',
        f'<div class="panel">{timeline_svg(timeline, rows, states)}{_legend(timeline)}</div>',
        '<h2 id="reasons">Top failure reasons</h2>',
        _reasons(reasons, load),
        '<h2 id="chunks">Chunks</h2>',
        f'<div class="panel">{_chunks(chunks, timeline)}</div>',
    ]
    if api_note:
        sections.append(f'<p class="note">{e(api_note)}</p>')
    sections += ['<h2 id="parameters">Parameters</h2>', _parameters(load)]
    sections.append(f'<p class="note">Written {_utc(time.time())} by mkto-bulk.</p>')
    title = f"mkto-bulk load {load.load_id}: {state}"
    return _template().substitute(title=e(title), body="\n".join(sections))
