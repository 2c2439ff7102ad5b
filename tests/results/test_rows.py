"""The results file's rows written as gzip CSV and read back, in pieces of any size."""

from __future__ import annotations

import csv
import gzip
import io

import pytest

from workers.results.rows import COLUMNS, Outcome, ResultRow, decode_rows, encode_rows


def test_rows_round_trip_through_the_gzip_csv_in_pieces() -> None:
    rows = [
        ResultRow("s3://etl/a.csv", n, f"lead{n}@x.com", Outcome.PROCESSED, "", n // 100, n % 100)
        for n in range(2, 30_000)
    ]
    rows.insert(5, ResultRow("s3://etl/a.csv", 7, 'multi\nline "key"', Outcome.FAILED,
                             "Invalid data type in field Lead Score", 0, 5))  # fmt: skip
    rows.append(ResultRow("s3://etl/b.csv.gz", 3, "Zoë", Outcome.REJECTED, "NUL byte in record"))
    pieces = list(encode_rows(rows))
    assert len(pieces) > 1, "written a piece at a time"
    data = b"".join(pieces)
    table = list(csv.reader(io.StringIO(gzip.decompress(data).decode(), newline="")))
    assert tuple(table[0]) == COLUMNS
    assert table[6] == ["s3://etl/a.csv", "7", 'multi\nline "key"', "failed",
                        "Invalid data type in field Lead Score", "0", "5"]  # fmt: skip
    assert table[-1] == ["s3://etl/b.csv.gz", "3", "Zoë", "rejected", "NUL byte in record", "", ""]
    blocks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    assert list(decode_rows(blocks)) == rows


def test_a_file_that_is_not_a_results_file_is_refused() -> None:
    with pytest.raises(ValueError, match="not a results file"):
        list(decode_rows([gzip.compress(b"a,b\n1,2\n")]))
