"""The HTML report's builder on made-up ledger records: escaping, an empty and a failed load,
the slot lanes, and failure reasons counted with bounded reads. No services, no browser."""

from __future__ import annotations

import html.parser
from pathlib import Path
from typing import Any

from workers.report.html import render
from workers.report.reasons import ReasonCount, Reasons, count_file, count_reasons
from workers.report.timeline import MARKETO_IMPORT_SLOTS, Span, build_timeline
from workers.state.records import Chunk, ChunkState, Load, LoadState
from workers.storage import Storage

T0 = 1_790_000_000.0
HOSTILE = "</script><script>alert(1)</script>"
HOSTILE_NAME = 's3://etl/in/"><img src=x onerror=alert(2)>.csv'


def a_load(**fields: Any) -> Load:
    values: dict[str, Any] = {
        "load_id": "L1",
        "state": LoadState.SUCCEEDED,
        "params": {"source": "s3://etl/in/leads.csv", "object": "leads", "lookupField": "email"},
        "created_at": T0,
        "updated_at": T0 + 60,
        "finished_at": T0 + 60,
        "staging": "s3://stage/loads/L1",
    }
    values.update(fields)
    return Load(**values)


def a_chunk(index: int, submitted: float, importing: float | None, finished: float,
            **fields: Any) -> Chunk:  # fmt: skip
    values: dict[str, Any] = {
        "load_id": "L1", "index": index, "state": ChunkState.DONE, "created_at": T0 + index,
        "updated_at": finished, "rows": 100, "processed": 100, "batch_id": f"10{index}",
        "submitted_at": submitted, "importing_since": importing, "finished_at": finished,
        "status": "Complete", "attempts": 1, "first_source": "s3://etl/in/leads.csv",
        "first_line": 2 + 100 * index, "last_line": 101 + 100 * index,
    }  # fmt: skip
    values.update(fields)
    return Chunk(**values)


class Tags(html.parser.HTMLParser):
    """Every start tag and its attributes, and the page's text, as a browser parses them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def page_of(load: Load, chunks: list[Chunk], reasons: Reasons | None = None) -> str:
    return render(load, chunks, state=load.state, finished_at=load.finished_at,
                  reasons=reasons, api="bulk", slots=MARKETO_IMPORT_SLOTS)  # fmt: skip


def test_text_from_the_load_is_shown_as_text_never_as_markup() -> None:
    load = a_load(
        state=LoadState.SUCCEEDED_WITH_ROW_ERRORS,
        params={"source": HOSTILE_NAME, "object": "leads", "partitionName": HOSTILE},
        rows_failed=3,
        error=f"line 7: {HOSTILE}",
        load_id="L1<em>",
    )
    chunk = a_chunk(0, T0 + 1, T0 + 2, T0 + 3, failed=3, message=HOSTILE, first_source=HOSTILE_NAME)
    reasons = Reasons((ReasonCount("Marketo", HOSTILE, 3),), 3, 1, 1, False)

    page = page_of(load, [chunk], reasons)

    for markup in (HOSTILE, "<img", "<em>"):
        assert markup not in page
    tags = parsed(page)
    assert "script" not in [tag for tag, _ in tags.tags], "the page has no script at all"
    handlers = [name for _, attrs in tags.tags for name in attrs if name.startswith("on")]
    assert handlers == []
    text = "".join(tags.text)
    assert text.count(HOSTILE) >= 4, "reason, message, error and parameter read as written"
    assert "onerror=alert(2)" in text
    policy = [a for t, a in tags.tags if t == "meta" and a.get("http-equiv")]
    assert policy and "default-src 'none'" in str(policy[0]["content"])


def test_an_empty_load_still_draws_both_slot_lanes_and_says_no_chunk_was_written() -> None:
    load = a_load(state=LoadState.FAILED, error="s3://etl/in/empty.csv: the file is empty")
    page = page_of(load, [])
    tags = parsed(page)
    lanes = [a["data-lane"] for t, a in tags.tags if "data-lane" in a]
    assert lanes == ["0", "1"]
    assert not [a for _, a in tags.tags if "data-chunk" in a]
    assert "No chunk was written." in page
    assert "the file is empty" in page and 'class="state failed"' in page


def test_a_failed_load_shows_its_error_and_every_failed_chunk_with_marketos_message() -> None:
    load = a_load(state=LoadState.FAILED, chunks_failed=2, rows_in_failed_jobs=200,
                  jobs_submitted=4, jobs_retried=2)  # fmt: skip
    chunks = [
        a_chunk(
            i,
            T0 + 5,
            T0 + 6 + i,
            T0 + 8 + i,
            state=ChunkState.FAILED,
            status="Failed",
            processed=0,
            attempts=2,
            message="Import failed: bad file",
            last_failure="Import failed: timeout",
        )
        for i in range(2)
    ]
    page = page_of(load, chunks)
    tags = parsed(page)
    failed_rows = [a for t, a in tags.tags if t == "tr" and a.get("class") == "failed"]
    assert len(failed_rows) == 2
    assert "Import failed: bad file (previous job: Import failed: timeout)" in page
    drawn = {a["data-chunk"]: a["data-state"] for _, a in tags.tags if "data-chunk" in a}
    assert drawn == {"0": "failed", "1": "failed"}
    assert 'class="state failed"' in page
    assert "<b>200</b><span>rows in failed jobs</span>" in page


def test_imports_fill_two_slots_in_fifo_order_and_an_unseen_start_is_estimated() -> None:
    load = a_load(rows_processed=400)
    chunks = [
        a_chunk(0, T0 + 1, T0 + 1, T0 + 11),  # both slots free: imports at once
        a_chunk(1, T0 + 2, T0 + 2, T0 + 6),
        a_chunk(2, T0 + 3, T0 + 6, T0 + 9),  # took slot 2 when chunk 1 ended
        a_chunk(3, T0 + 4, None, T0 + 12),  # Queued then Complete: no poll saw it importing
    ]
    timeline = build_timeline(load, chunks, slots=2, finished_at=T0 + 12)
    by = {t.index: t for t in timeline.chunks}
    assert [by[i].lane for i in range(4)] == [0, 1, 1, 1]
    assert by[3].start_estimated and by[3].importing is not None
    assert by[3].importing.start == T0 + 9, "started when chunk 2 freed its slot"
    assert by[3].queued is not None and by[3].queued.seconds == 5
    assert by[2].wait is not None and by[2].wait.seconds == 1, "split at T0+2, submitted at T0+3"
    assert by[2].queued is not None and by[2].queued.seconds == 3
    assert timeline.peak_outstanding == 4
    assert timeline.busy_s == 11 and timeline.slot_s == 10 + 4 + 3 + 3
    assert timeline.slot_use is not None and round(timeline.slot_use, 2) == round(20 / 22, 2)

    page = page_of(load, chunks)
    tags = parsed(page)
    in_lanes = sorted(str(a["data-slot-chunk"]) for _, a in tags.tags if "data-slot-chunk" in a)
    assert in_lanes == ["0", "1", "2", "3"]
    spans = [a["data-span"] for _, a in tags.tags if "data-span" in a]
    assert spans.count("importing") == 4 and spans.count("wait") == 4


def test_an_unseen_import_lasts_at_least_as_long_as_the_quickest_import_seen() -> None:
    chunks = [
        a_chunk(0, T0 + 1, T0 + 1, T0 + 11),
        a_chunk(1, T0 + 2, T0 + 8, T0 + 12),
        a_chunk(2, T0 + 3, None, T0 + 10.5),  # its end was seen before both slots' ends were
    ]
    timeline = build_timeline(a_load(), chunks, slots=2, finished_at=T0 + 12)
    unseen = timeline.chunks[2]
    assert unseen.start_estimated and unseen.importing is not None
    assert unseen.importing == Span(T0 + 6.5, T0 + 10.5), "4 s, as chunk 1's, the quickest"


def test_an_api_without_marketos_queue_draws_no_slot_lanes() -> None:
    load = a_load(params={"source": "s3://etl/in/a.csv", "object": "leads", "api": "ingestion"})
    page = render(load, [a_chunk(0, T0 + 1, None, T0 + 2)], state="succeeded",
                  finished_at=T0 + 3, reasons=None, api="ingestion", slots=0)  # fmt: skip
    tags = parsed(page)
    assert not [a for _, a in tags.tags if "data-lane" in a]
    assert [a["data-chunk"] for _, a in tags.tags if "data-chunk" in a] == ["0"]
    assert "no import queue" in page


def test_reasons_are_counted_by_their_column_and_a_cut_read_drops_its_last_record() -> None:
    data = (
        b"email,score,Import Failure Reason\n"
        b'a@x,1,"Invalid data type in field Score"\n'
        b'b@x,2,"Value ""quoted""\nover two lines"\n'
        b'c@x,3,"Invalid data type in field Score"\n'
        b'd@x,4,"Invalid data type in fi'
    )
    counts = count_file(data, ",", complete=False)
    assert counts == {"Invalid data type in field Score": 1, 'Value "quoted"\nover two lines': 1}
    assert (
        count_file(data + b'eld Score"\n', ",", complete=True)["Invalid data type in field Score"]
        == 3
    )


def test_reason_reads_are_bounded_per_file_and_in_files(tmp_path: Path) -> None:
    rows = "".join(f"x{n}@y,Missing value for lookup field 'email'\n" for n in range(2000))
    chunks = []
    for index in range(5):
        path = tmp_path / f"chunk-{index}.csv"
        path.write_text("email,Import Failure Reason\n" + rows)
        chunks.append(a_chunk(index, T0, T0, T0 + 1, failures_uri=str(path)))
    rejects = tmp_path / "rejects.csv"
    rejects.write_text('source,line,reason,record\ns3://a/b.csv,9,"broken quoting","x"\n')
    load = a_load(rows_failed=10_000, rows_rejected=1, rejects_uri=str(rejects))

    reasons = count_reasons(Storage(), load, chunks, max_files=3, file_bytes=4096)

    assert reasons.partial and reasons.files_read == 4 and reasons.files_total == 6
    top = {(r.origin, r.reason): r.rows for r in reasons.top}
    assert top[("split (not submitted)", "broken quoting")] == 1
    marketo = top[("Marketo", "Missing value for lookup field 'email'")]
    assert 3 * 50 < marketo < 3 * 4096 // 40, "only the first 4 KiB of each of 3 files"
    page = page_of(load, chunks, reasons)
    assert "reads are bounded" in page and "broken quoting" in page
