"""A source's own delimiter and encoding, given in the payload: the records reach Marketo intact."""

from __future__ import annotations

import urllib.parse
from typing import Any

from tests.e2e.test_cli_load import cli
from tests.pipeline_helpers import Pipeline, put_dataset
from tests.sandbox_helpers import admin
from tests.services import Service


def lead(sandbox: Service, email: str) -> dict[str, Any]:
    query = urllib.parse.urlencode({"email": email})
    found = admin(sandbox, "GET", f"/_sandbox/records/leads?{query}")
    assert found["count"] == 1, found
    return dict(found["records"][0])


def test_a_semicolon_file_named_csv_loads_with_input_format_ssv(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    body = (
        "email;firstName;lastName;leadScore\n"
        'ann@example.com;Ann;"Smith; Jr";20\n'
        "bob@example.com;Bob,the builder;Jones;30\n"
        "cy@example.com;Cy;Young;40\n"
    )
    source = put_dataset(s3_client, bucket, "in/leads.csv", body)
    pipeline.start_worker("a", concurrency=1)

    result = cli(pipeline, "load", source, "--object", "leads", "--input-format", "ssv", "--wait")

    assert result.returncode == 0, result.stdout + result.stderr + pipeline.logs()[-2000:]
    load_id = result.stdout.splitlines()[0].strip()
    load = pipeline.load(load_id)
    assert (load["state"], load["rows_read"], load["rows_processed"]) == ("succeeded", "3", "3")
    assert lead(sandbox, "ann@example.com")["lastName"] == "Smith; Jr"
    assert lead(sandbox, "bob@example.com")["firstName"] == "Bob,the builder"
    assert admin(sandbox, "GET", "/_sandbox/stats")["records"]["leads"] == 3


def test_a_latin_1_file_arrives_in_marketo_with_its_characters(
    pipeline: Pipeline, sandbox: Service, s3_client: Any, bucket: str
) -> None:
    body = (
        "email,firstName,lastName,leadScore\n"
        "jurgen@example.com,Jürgen,Müller-Lüdenscheidt,30\n"
        "nuria@example.com,Núria,Pañeda,40\n"
    ).encode("latin-1")
    source = put_dataset(s3_client, bucket, "in/latin1.csv", body)
    pipeline.start_worker("a", concurrency=1)

    load_id = pipeline.start_load(source=source, object="leads", encoding="latin-1")

    load = pipeline.wait_until_finished(load_id)
    assert (load["state"], load["rows_processed"]) == ("succeeded", "2"), pipeline.logs()[-2000:]
    jurgen = lead(sandbox, "jurgen@example.com")
    assert (jurgen["firstName"], jurgen["lastName"]) == ("Jürgen", "Müller-Lüdenscheidt")
    nuria = lead(sandbox, "nuria@example.com")
    assert (nuria["firstName"], nuria["lastName"]) == ("Núria", "Pañeda")
