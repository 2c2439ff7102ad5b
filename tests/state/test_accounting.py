"""The count checks and the bounded error messages (pure logic)."""

from __future__ import annotations

from dataclasses import replace

from workers.errors import DailyQuotaExhausted, StorageUnavailable
from workers.pipeline.step_errors import MESSAGE_CHARS, describe, is_unexpected
from workers.state.accounting import mismatch
from workers.state.records import Chunk, ChunkState, Load, LoadState

LOAD = Load(
    load_id="L",
    state=LoadState.LOADING,
    params={},
    created_at=0.0,
    updated_at=0.0,
    rows_read=2013,
    rows_submitted=2000,
    rows_rejected=10,
    rows_skipped=3,
    rows_not_submitted=0,
    rows_processed=1990,
    rows_failed=10,
    rows_in_failed_jobs=0,
)


def _chunk(
    index: int, rows: int, processed: int, failed: int, state: ChunkState = ChunkState.DONE
) -> Chunk:
    return Chunk(load_id="L", index=index, state=state, created_at=0.0, updated_at=0.0,
                 rows=rows, processed=processed, failed=failed)  # fmt: skip


def test_counts_that_add_up_pass_with_rejects_skipped_blank_lines_and_failed_rows() -> None:
    chunks = [_chunk(0, 1000, 995, 5), _chunk(1, 1000, 995, 5)]
    assert mismatch(LOAD, chunks) is None


def test_a_chunk_marketo_miscounted_is_named_with_its_figures() -> None:
    load = replace(LOAD, rows_processed=1987)
    chunks = [_chunk(0, 1000, 995, 5), _chunk(3, 1000, 992, 5)]
    assert mismatch(load, chunks) == (
        "counts do not add up: chunk 3 submitted 1,000 rows, Marketo processed 992 + failed 5; "
        "2,000 rows submitted, but Marketo processed 1,987 + failed 10 + 0 in failed jobs"
    )


def test_rows_read_that_are_neither_submitted_rejected_nor_skipped_are_a_mismatch() -> None:
    load = replace(LOAD, rows_read=2014)
    chunks = [_chunk(0, 1000, 995, 5), _chunk(1, 1000, 995, 5)]
    assert mismatch(load, chunks) == (
        "counts do not add up: 2,014 rows read, but 2,000 submitted + 10 rejected + "
        "3 skipped + 0 not submitted"
    )


def test_a_failed_job_counts_all_its_rows_as_in_failed_jobs() -> None:
    load = replace(LOAD, rows_processed=995, rows_failed=5, rows_in_failed_jobs=1000)
    chunks = [_chunk(0, 1000, 995, 5), _chunk(1, 1000, 0, 0, state=ChunkState.FAILED)]
    assert mismatch(load, chunks) is None


def test_an_unexpected_error_message_is_one_bounded_line_without_secrets() -> None:
    error = RuntimeError(
        "POST failed\nAuthorization: Bearer abc.def-123 with client_secret=s3cr3t and "
        "hunter2 " + "x" * 500
    )
    text = describe(error, "hunter2")
    assert text.startswith("RuntimeError: POST failed Authorization: Bearer *** with ")
    assert "abc.def-123" not in text and "s3cr3t" not in text and "hunter2" not in text
    assert "\n" not in text and len(text) == MESSAGE_CHARS and text.endswith("...")
    assert describe(UnicodeEncodeError("latin-1", "\u2603", 0, 1, "ordinal not in range(256)")) == (
        "UnicodeEncodeError: 'latin-1' codec can't encode character '\\u2603' in position 0: "
        "ordinal not in range(256)"
    )


def test_outages_and_the_quota_are_not_unexpected() -> None:
    import botocore.exceptions
    import redis

    assert not is_unexpected(DailyQuotaExhausted("607", "quota"))
    assert not is_unexpected(StorageUnavailable("s3 down"))
    assert not is_unexpected(redis.ConnectionError("refused"))
    assert not is_unexpected(botocore.exceptions.EndpointConnectionError(endpoint_url="http://s3"))
    assert is_unexpected(ValueError("bad"))
    assert is_unexpected(UnicodeEncodeError("latin-1", "\u2603", 0, 1, "x"))
