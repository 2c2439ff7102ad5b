"""Sandbox with real-size files: a 9.9 MB import of 60,000 leads, and HTTP 413 above the limit."""

from __future__ import annotations

import time

import requests

from tests.sandbox_helpers import Caller, admin, configure, csv_rows, stats
from tests.services import Service

ROWS = 60_000
TARGET_BYTES = 9_900_000


def big_leads_file() -> tuple[bytes, int, int]:
    """60,000 rows padded to ~9.9 MB; every 1000th row fails, every 1500th row warns."""
    header = "email,firstName,lastName,company,leadScore,notes\n"
    base = [
        f'user{i}@example.com,First{i},Last{i},"Company, {i} ""Ltd""",{i % 100},'
        for i in range(ROWS)
    ]
    pad = (TARGET_BYTES - len(header) - sum(len(b) + 1 for b in base)) // ROWS
    failed = warned = 0
    lines = [header]
    for i, prefix in enumerate(base):
        if i % 1000 == 999:
            prefix = prefix.replace(f",{i % 100},", ",not-a-number,")
            failed += 1
        elif i % 1500 == 1499:
            prefix = prefix.replace(f"user{i}@example.com", f"user{i}-at-example.com")
            warned += 1
        lines.append(prefix + "n" * pad + "\n")
    return "".join(lines).encode(), failed, warned


def test_big_import_exact_counts_and_files(sandbox: Service) -> None:
    data, failed, warned = big_leads_file()
    assert 9_800_000 < len(data) < 10_000_000
    caller = Caller(sandbox)
    started = time.monotonic()
    batch = caller.submit("/bulk/v1/leads.json", data, format="csv")
    result = caller.wait_done(f"/bulk/v1/leads/batch/{batch}.json", timeout=60)
    print(f"9.9 MB / {ROWS} rows: submit+import {time.monotonic() - started:.2f}s")
    assert result["status"] == "Complete"
    assert result["numOfRowsFailed"] == failed == 60
    assert result["numOfRowsWithWarning"] == warned
    assert result["numOfLeadsProcessed"] == ROWS - failed
    failures = csv_rows(caller.get(f"/bulk/v1/leads/batch/{batch}/failures.json").text)
    warnings = csv_rows(caller.get(f"/bulk/v1/leads/batch/{batch}/warnings.json").text)
    assert len(failures) - 1 == failed
    assert len(warnings) - 1 == warned
    assert failures[1][3] == 'Company, 999 "Ltd"'
    assert {row[-1] for row in failures[1:]} == {"Invalid data type in field Lead Score"}
    assert stats(sandbox)["records"]["leads"] == ROWS - failed


def test_file_over_the_limit_gets_413(sandbox: Service) -> None:
    caller = Caller(sandbox)
    over = b"email,notes\na@example.com," + b"x" * (10_000_000 - 25)
    assert len(over) == 10_000_001
    response = caller.upload("/bulk/v1/leads.json", over, format="csv")
    assert response.status_code == 413
    at_limit = over[:-1]
    assert caller.upload("/bulk/v1/leads.json", at_limit, format="csv").json()["success"] is True
    configure(sandbox, max_file_bytes=1000)
    small = b"email,notes\na@example.com," + b"x" * 1000
    assert caller.upload("/bulk/v1/leads.json", small, format="csv").status_code == 413
    huge = requests.post(  # refused from Content-Length, before the body is parsed
        sandbox.url + "/bulk/v1/leads.json",
        files={"file": ("big.csv", b"email\n" + b"a" * 3_000_000)},
        headers=caller.headers,
        timeout=30,
    )
    assert huge.status_code == 413
    counters = stats(sandbox)
    assert counters["calls_by_code"]["413"] == 3
    assert admin(sandbox, "GET", "/_sandbox/jobs")[0]["rows"] == 1


def test_streamed_uploads_chunked_and_toolbelt(sandbox: Service) -> None:
    """Uploads as a streaming client sends them: chunked transfer and MultipartEncoder."""
    import io
    from collections.abc import Iterator

    from requests_toolbelt import MultipartEncoder

    caller = Caller(sandbox)
    boundary = "----WebKitFormBoundaryXjWP6BP8Ciq6bPeo"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="custom_object_import.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
        "color,make,model,vin\nred,bmw,2002,WBA4R7C55HK895912\n"
        f"\r\n--{boundary}--\r\n"
    ).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 50):
            yield body[start : start + 50]

    chunked = requests.post(
        sandbox.url + "/bulk/v1/customobjects/car_c/import.json?format=csv",
        data=chunks(),
        headers={**caller.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=30,
    )
    assert chunked.json()["success"] is True, chunked.text
    encoder = MultipartEncoder(
        fields={"file": ("leads.csv", io.BytesIO(b"email\nstream@example.com\n"), "text/csv")}
    )
    streamed = requests.post(
        sandbox.url + "/bulk/v1/leads.json",
        params={"format": "csv"},
        data=encoder,
        headers={**caller.headers, "Content-Type": encoder.content_type},
        timeout=30,
    )
    batch = streamed.json()["result"][0]["batchId"]
    assert caller.wait_done(f"/bulk/v1/leads/batch/{batch}.json")["numOfLeadsProcessed"] == 1
    car = chunked.json()["result"][0]["batchId"]
    status = caller.wait_done(f"/bulk/v1/customobjects/car_c/import/{car}/status.json")
    assert status["numOfObjectsProcessed"] == 1
