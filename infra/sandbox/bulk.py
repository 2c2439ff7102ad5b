"""The Bulk Import endpoints for leads, custom objects and program members.

Paths, parameters and result fields follow the bulk-*-import docs and the
official OpenAPI. Errors chosen where the docs are silent are listed in
docs/sandbox/behaviour.md ("Create errors").
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from infra.sandbox.config import FieldDef
from infra.sandbox.envelope import MarketoError, ok
from infra.sandbox.importer import render_file, status_result
from infra.sandbox.queue import ImportJob
from infra.sandbox.records import ImportTarget
from infra.sandbox.rows import DELIMITERS, ParsedFile, RowResult, check_row, parse_file
from infra.sandbox.state import SandboxState

CSV_CONTENT_TYPE = "text/csv;charset=UTF-8"
_SLACK_BYTES = 1 << 20  # multipart framing and form fields on top of the file itself
MISSING_DEDUPE = "missing.dedupe.fields"


class PayloadTooLarge(Exception):
    """The upload exceeds ``max_file_bytes``: HTTP 413, like Marketo's front end."""


def _param(request: Request, name: str) -> str | None:
    """A parameter from the query string or, as in Marketo's curl examples, a form field."""
    value = request.args.get(name)
    if value is None and request.mimetype == "multipart/form-data":
        value = request.form.get(name)
    return value


def _format(request: Request) -> str:
    fmt = (_param(request, "format") or "csv").lower()
    if fmt not in DELIMITERS:
        raise MarketoError("1003", f"Invalid format '{fmt}'. Must be one of csv, tsv, ssv")
    return fmt


def check_length(request: Request, max_bytes: int) -> None:
    """Refuse an oversized body before parsing anything from it."""
    length = request.content_length
    if length is not None and length > max_bytes + _SLACK_BYTES:
        raise PayloadTooLarge


def read_upload(request: Request, max_bytes: int) -> bytes:
    """The ``file`` part's bytes; 612/613/701 for a bad request, PayloadTooLarge over the limit."""
    if request.mimetype != "multipart/form-data":
        raise MarketoError("612", "Invalid Content Type")
    try:
        files = request.files
    except Exception as error:  # werkzeug raises assorted errors on broken multipart bodies
        raise MarketoError("613", "Invalid Multipart Request") from error
    if "access_token" in request.form:
        raise MarketoError("601", "Access token invalid: send it in the Authorization header")
    storage = files.get("file")
    if storage is None:
        raise MarketoError("701", "file cannot be blank")
    data = storage.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge
    if not data:
        raise MarketoError("701", "file cannot be blank")
    return data


def _check(
    parsed: ParsedFile, fields: dict[str, FieldDef], keys: list[str], reason: str
) -> list[RowResult] | None:
    if parsed.error:
        return None
    columns = [fields.get(name) for name in parsed.header]
    return [check_row(row, parsed.header, columns, keys, reason) for row in parsed.rows]


def _submit(
    state: SandboxState,
    target: ImportTarget,
    fmt: str,
    data: bytes,
    fields: dict[str, FieldDef],
    keys: list[str],
    reason: str,
    fault: str,
) -> Response:
    """Parse and check outside the lock, then admit the job to the queue.

    ``fault``: ``job_failed`` (the job ends Failed) or ``skip_row`` (it leaves
    its last row out of every count, as a buggy import would).
    """
    parsed = parse_file(data, fmt)
    checked = _check(parsed, fields, keys, reason)
    with state.lock:
        settings = state.settings
        fail = fault == "job_failed" or state.faults.job_fails(settings.faults)
        message = parsed.error or ("internal error (injected fault)" if fail else "")
        job = state.queue.admit(target, fmt, parsed, checked, message, state.clock.now(), settings)
        job.skip_rows = 1 if fault == "skip_row" else 0
    result: dict[str, object] = {"batchId": job.batch_id}
    if target.kind == "customobject":
        result.update(operation="import", status="Queued", objectApiName=target.object_name)
    else:
        result.update(importId=str(job.batch_id), status="Queued")
    return ok([result])


def import_leads(request: Request, state: SandboxState, fault: str) -> Response:
    schema = state.schema
    check_length(request, state.settings.max_file_bytes)
    fmt = _format(request)
    lookup = _param(request, "lookupField") or "email"
    definition = schema.lead_field(lookup)
    if definition is None:
        raise MarketoError("1006", f"Field '{lookup}' not found")
    if lookup not in ("id", "email") and not definition.lookup:
        raise MarketoError("1011", f"Field '{lookup}' not supported")
    list_id: int | None = None
    raw_list = _param(request, "listId")
    if raw_list:
        try:
            list_id = int(raw_list)
        except ValueError:
            raise MarketoError(
                "1001", f"Invalid value '{raw_list}'. Required of type 'Integer'"
            ) from None
        if list_id not in schema.static_lists:
            raise MarketoError("1013", f"Static list '{list_id}' not found")
    partition = _param(request, "partitionName")
    if partition and partition not in schema.partitions:
        raise MarketoError("1003", f"Partition '{partition}' not found")
    data = read_upload(request, state.settings.max_file_bytes)
    target = ImportTarget("leads", "leads", lookup, list_id, partition or None)
    fields = {f.name: f for f in schema.lead_fields}
    reason = f"Missing value for lookup field '{lookup}'"
    return _submit(state, target, fmt, data, fields, [lookup], reason, fault)


def import_custom_objects(
    request: Request, state: SandboxState, api_name: str, fault: str
) -> Response:
    definition = state.schema.custom_objects.get(api_name)
    if definition is None:
        raise MarketoError("1013", f"Custom object '{api_name}' not found")
    check_length(request, state.settings.max_file_bytes)
    fmt = _format(request)
    data = read_upload(request, state.settings.max_file_bytes)
    target = ImportTarget("customobject", api_name)
    fields = {f.name: f for f in definition.fields}
    keys = list(definition.dedupe_fields)
    return _submit(state, target, fmt, data, fields, keys, MISSING_DEDUPE, fault)


def import_program_members(
    request: Request, state: SandboxState, program_id: str, fault: str
) -> Response:
    schema = state.schema
    program = schema.programs.get(int(program_id)) if program_id.isdigit() else None
    if program is None:
        raise MarketoError("1013", f"Program '{program_id}' not found")
    check_length(request, state.settings.max_file_bytes)
    fmt = _format(request)
    status = _param(request, "programMemberStatus")
    if not status:
        raise MarketoError("701", "programMemberStatus cannot be blank")
    if status not in program.statuses:
        raise MarketoError("1025", f"Program status '{status}' not found")
    data = read_upload(request, state.settings.max_file_bytes)
    target = ImportTarget("program_members", "program_members", program_id=program.id,
                          member_status=status)  # fmt: skip
    fields = {f.name: f for f in schema.lead_fields}
    fields.update({f.name: f for f in schema.member_fields if f.updateable})
    reason = "Missing value for lookup field 'email'"
    return _submit(state, target, fmt, data, fields, ["email"], reason, fault)


def _job(state: SandboxState, batch_id: int, kind: str, api_name: str | None = None) -> ImportJob:
    """The batch if it exists, is younger than 7 days and belongs to this endpoint; else 1003."""
    job = state.queue.jobs.get(batch_id)
    if job is None or job.target.kind != kind or (api_name and job.target.object_name != api_name):
        raise MarketoError("1003", f"Import batch '{batch_id}' not found")
    return job


def batch_status(
    state: SandboxState, batch_id: int, kind: str, api_name: str | None = None
) -> Response:
    with state.settled() as now:
        return ok([status_result(_job(state, batch_id, kind, api_name), now)])


def batch_file(
    state: SandboxState, batch_id: int, kind: str, which: str, api_name: str | None = None
) -> Response:
    """The failures/warnings file, or HTTP 404 when the job has none (per the docs)."""
    with state.settled():
        body = render_file(_job(state, batch_id, kind, api_name), which)
    if body is None:
        return Response(b"", status=404, content_type=CSV_CONTENT_TYPE)
    return Response(body, status=200, content_type=CSV_CONTENT_TYPE)
