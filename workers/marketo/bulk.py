"""Bulk import calls: create a job from a streamed file, poll its status, fetch its result files.

The same three calls serve every object type; the target (its spec module's)
supplies paths and parameters. Uploads go through
``MultipartEncoder`` so a 10 MB file never sits in memory; result files are
streamed to the caller's writable in chunks.
"""

from __future__ import annotations

import logging
from typing import IO

import requests
from requests_toolbelt import MultipartEncoder

from workers.errors import MarketoPermanentError
from workers.marketo.core import MarketoCore
from workers.marketo.imports import ImportStatus, ImportTarget, parse_status
from workers.marketo.transport import http_error, iter_body, parse_envelope
from workers.marketo.upload import Upload, open_upload

logger = logging.getLogger(__name__)

DOWNLOAD_CHUNK_BYTES = 64 * 1024
FILE_CONTENT_TYPE = "text/csv"


class BulkImports(MarketoCore):
    """The bulk import endpoints, for all three object types."""

    def create_import(
        self,
        target: ImportTarget,
        upload: Upload,
        *,
        retry_too_many_imports: bool = False,
        retry_maybe_sent: bool = True,
    ) -> ImportStatus:
        """Submit one file as a new import job; returns its batchId and first status.

        A ``1016 Too many imports`` is raised at once (``TooManyImports``) unless
        ``retry_too_many_imports``: the pipeline's admission control owns that wait.
        A dropped connection is retried, which can submit the file twice (an
        import is an upsert); such retries are counted as ``possible_double_submits``.
        ``retry_maybe_sent=False`` raises instead, for a caller that tracks the job.
        """
        path = target.create_path()
        params = target.params()

        def send(token: str) -> requests.Response:
            reader = open_upload(upload)
            try:
                # Parameters go both in the query (OpenAPI) and the form (Marketo's examples).
                fields: dict[str, object] = dict(params)
                fields["file"] = (upload.filename, reader, FILE_CONTENT_TYPE)
                encoder = MultipartEncoder(fields=fields)
                return self._send(
                    "POST",
                    path,
                    token,
                    params=params,
                    data=encoder,
                    headers={"Content-Type": encoder.content_type},
                )
            finally:
                reader.close()

        return self.execute(
            "POST",
            path,
            send,
            lambda response: self._status(target, response, path),
            is_create=True,
            retry_too_many_imports=retry_too_many_imports,
            retry_maybe_sent=retry_maybe_sent,
        )

    def import_status(self, target: ImportTarget, batch_id: int) -> ImportStatus:
        """The job's state, counts (processed, failed, with warning) and message."""
        path = target.status_path(batch_id)

        def send(token: str) -> requests.Response:
            return self._send("GET", path, token)

        return self.execute(
            "GET", path, send, lambda response: self._status(target, response, path)
        )

    def download_failures(self, target: ImportTarget, batch_id: int, out: IO[bytes]) -> int | None:
        """Stream the job's failure file into ``out``; bytes written, or None if there is none."""
        return self._download(target.file_path(batch_id, "failures"), out)

    def download_warnings(self, target: ImportTarget, batch_id: int, out: IO[bytes]) -> int | None:
        """Stream the job's warning file into ``out``; bytes written, or None if there is none."""
        return self._download(target.file_path(batch_id, "warnings"), out)

    def _status(self, target: ImportTarget, response: requests.Response, path: str) -> ImportStatus:
        envelope = parse_envelope(response, path)
        return parse_status(
            target.kind,
            envelope.result,
            envelope.request_id,
            observed_at=self.clock(),
            call_s=response.elapsed.total_seconds(),
            path=path,
        )

    def _download(self, path: str, out: IO[bytes]) -> int | None:
        start = _position(out)
        dirty = False  # a failed attempt wrote part of the file

        def send(token: str) -> requests.Response:
            return self._send("GET", path, token, stream=True, headers={"Accept": "*/*"})

        def handle(response: requests.Response) -> int | None:
            nonlocal dirty
            if response.status_code == 404:
                return None  # Marketo has no such file: no failures / warnings
            error = http_error(response, path)
            if error is not None:
                raise error
            if "json" in response.headers.get("Content-Type", ""):
                parse_envelope(response, path)  # an error answer instead of the file
            if dirty:
                _rewind(out, start, path)
            written = 0
            for chunk in iter_body(response, path, DOWNLOAD_CHUNK_BYTES):
                dirty = True
                out.write(chunk)
                written += len(chunk)
            return written

        return self.execute("GET", path, send, handle)


def _position(out: IO[bytes]) -> int | None:
    try:
        return out.tell() if out.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def _rewind(out: IO[bytes], start: int | None, path: str) -> None:
    """Before writing a retried download again, drop what the failed attempt wrote."""
    if start is None:
        raise MarketoPermanentError(
            "download", f"GET {path}: cannot retry into a target that cannot seek back"
        )
    out.seek(start)
    out.truncate()
