"""``report.html`` of a real load (real workers, Redis, S3 endpoint, sandbox) opened in
headless Chromium: no console error, nothing fetched, hostile text shown as text, the
slot lanes and every chunk drawn, and a screenshot taken. ``mkto-bulk report`` writes
the same page, or builds it again from the ledger."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.sandbox.config import default_config
from tests.pipeline_helpers import Pipeline, pipeline_env, put_dataset, read_report
from tests.report.chromium import chromium
from tests.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Service, start_sandbox

ROOT = Path(__file__).resolve().parents[2]
MKTO_BULK = str(Path(sys.executable).with_name("mkto-bulk"))
HOSTILE = "</script><script>alert(1)</script>"
# A Marketo admin may name a field anything; the sandbox's failure reason names the field.
HOSTILE_REASON = f"Invalid data type in field {HOSTILE}"
HOSTILE_KEY = 'in/"><img src=x onerror=alert(2)>.csv'
HEADER = "email,firstName,lastName,leadScore,hostileScore\n"


@pytest.fixture
def hostile_sandbox(tmp_path: Path) -> Iterator[Service]:
    """A sandbox whose lead schema has a field with a hostile display name; imports slow
    enough (0.6 s a job) that jobs queue for Marketo's two slots."""
    config = default_config()
    leads = config["leads"]
    leads["fields"].append({"name": "hostileScore", "displayName": HOSTILE, "dataType": "integer"})
    path = tmp_path / "sandbox.json"
    path.write_text(json.dumps({"leads": leads, "settings": {"import_overhead_s": 0.6}}))
    workdir = tmp_path / "sandbox"
    workdir.mkdir()
    service = start_sandbox(workdir, "--config", str(path))
    yield service
    service.stop()


@pytest.fixture
def hostile_pipeline(
    redis_url: str, s3_service: Service, hostile_sandbox: Service, bucket: str, tmp_path: Path
) -> Iterator[Pipeline]:
    env = pipeline_env(redis_url, s3_service, hostile_sandbox, bucket, CHUNK_BYTE_LIMIT="4096")
    pipeline = Pipeline(env, redis_url, bucket, tmp_path)
    yield pipeline
    pipeline.stop()


def rows() -> str:
    lines = []
    for n in range(600):
        hostile = "x" if n % 97 == 5 else str(n)  # 7 rows Marketo fails, naming the field
        score = "not-a-number" if n in (10, 300) else str(n % 50)
        lines.append(f'lead{n}@example.com,First{n},"Last, {n}",{score},{hostile}\n')
    return HEADER + "".join(lines)


def cli(pipeline: Pipeline, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in pipeline.env.items() if not k.startswith("MARKETO_")}
    return subprocess.run([MKTO_BULK, "report", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def s3_location(uri: str) -> tuple[str, str]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bucket, key


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_report_page_of_a_real_load_draws_every_chunk_and_runs_nothing_in_chromium(
    hostile_pipeline: Pipeline, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    pipeline = hostile_pipeline
    source = put_dataset(s3_client, bucket, HOSTILE_KEY, rows())
    pipeline.start_worker("a", concurrency=3)
    load_id = pipeline.start_load(source=source, object="leads", lookupField="email")
    load = pipeline.wait_until_finished(load_id, timeout=300)
    assert load["state"] == "succeeded_with_row_errors", pipeline.logs()[-3000:]

    report = read_report(s3_client, load["report_uri"])
    chunks = [c["chunk"] for c in report["chunks"]]
    assert len(chunks) >= 6, "several chunks, so jobs queue for the slots"
    assert report["totals"]["rows_failed"] == 9
    assert report["report_html"] == load["report_uri"].replace("report.json", "report.html")
    html_bucket, html_key = s3_location(report["report_html"])
    stored = s3_client.get_object(Bucket=html_bucket, Key=html_key)["Body"].read()

    # The command writes the stored page under its default name, and says where.
    here = tmp_path / "cli"
    here.mkdir()
    written = cli(pipeline, here, load_id)
    assert written.returncode == 0, written.stderr
    page_path = here / f"report-{load_id}.html"
    assert written.stdout.strip().startswith(f"wrote {page_path}")
    assert f"from {report['report_html']}" in written.stdout
    assert page_path.read_bytes() == stored

    # Secrets stay out: neither the client secret nor the access token the workers used.
    cached = pipeline.redis.get(f"mkto:token:{SANDBOX_CLIENT_ID}")
    assert cached is not None, "the workers fetched a token"
    token = json.loads(cached)["token"]
    page = stored.decode()
    assert SANDBOX_CLIENT_SECRET not in page and token not in page
    assert HOSTILE not in page and "<img" not in page

    with chromium(tmp_path) as tab:
        tab.open(page_path.as_uri())
        drawn = tab.evaluate(
            """(() => {
              const all = (q) => [...document.querySelectorAll(q)];
              return {
                lanes: all('[data-lane]').map((e) => e.dataset.lane),
                chunks: all('g[data-chunk]').map((e) => Number(e.dataset.chunk)),
                inSlots: all('[data-slot-chunk]').map((e) => Number(e.dataset.slotChunk)),
                importing: all('g[data-chunk] [data-span=importing]').length,
                reasons: all('tr[data-reason]').map((r) => r.innerText),
                scripts: document.scripts.length,
                images: document.images.length,
                text: document.body.innerText,
                svgWidth: document.querySelector('svg.timeline').getBoundingClientRect().width,
              };
            })()"""
        )
        shot = tab.screenshot(tmp_path / "report.png")

    assert tab.events.errors() == [], tab.events.errors()
    assert tab.events.dialogs == [], "no alert() ran"
    assert tab.events.requests == [page_path.as_uri()], "the page fetched nothing else"
    assert drawn["lanes"] == ["0", "1"]
    assert sorted(drawn["chunks"]) == chunks
    assert sorted(drawn["inSlots"]) == chunks, "every chunk's import is in a slot lane"
    assert drawn["importing"] == len(chunks)
    assert (drawn["scripts"], drawn["images"]) == (0, 0)
    top = drawn["reasons"][0].split("\t")
    assert top[0].strip() == "7" and top[2].strip() == HOSTILE_REASON, drawn["reasons"]
    assert any("Lead Score" in r for r in drawn["reasons"])
    assert HOSTILE_KEY.rsplit("/", 1)[-1] in drawn["text"]
    assert drawn["svgWidth"] > 600
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000

    # Without the page in S3, the command builds it again from the ledger.
    s3_client.delete_object(Bucket=html_bucket, Key=html_key)
    rebuilt_path = tmp_path / "rebuilt.html"
    rebuilt = cli(pipeline, here, load_id, "--out", str(rebuilt_path))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "from the ledger" in rebuilt.stdout
    again = rebuilt_path.read_text()
    for index in chunks:
        assert f'data-chunk="{index}"' in again
    assert HOSTILE_REASON.replace("<", "&lt;").replace(">", "&gt;") in again

    missing = cli(pipeline, here, "no-such-load")
    assert missing.returncode == 1 and "no load 'no-such-load'" in missing.stderr
