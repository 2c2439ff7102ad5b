"""Unexpected errors in a step: counted in the ledger, bounded, never holding a permit forever.

A Marketo transient error, an S3 or Redis outage or the daily quota are retried
for as long as they last: they end by themselves. Anything else (a bug, a
parameter Marketo's transport cannot encode, a chunk file gone from S3 under
us) would fail the same way on every retry, so a step counts it on the chunk
or load and gives up after ``Settings.unexpected_error_attempts``, releasing
what it holds. The message kept is the error's type and text, bounded and
scrubbed of anything that looks like a credential.
"""

from __future__ import annotations

import re

from workers.errors import LeaseLost
from workers.pipeline.transient import as_transient

MESSAGE_CHARS = 300  # a stored message is bounded: one line in the status and the report

_SECRETS = re.compile(
    r"(?i)((?:authorization[=:]\s*)?bearer\s+|authorization[=:]\s*|access_token[=:]\s*"
    r"|client_secret[=:]\s*)[^\s&,;'\"]+"
)


def is_unexpected(error: BaseException) -> bool:
    """False for what ends by itself: Marketo transient errors, the quota, Redis and S3
    outages (``transient.as_transient``), and a lease another process took over."""
    if not isinstance(error, Exception) or isinstance(error, LeaseLost):
        return False
    return as_transient(error) is None


def describe(error: BaseException, *secrets: str | None) -> str:
    """``Type: text`` on one line, at most MESSAGE_CHARS, without tokens or the given secrets."""
    text = " ".join(str(error).split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _SECRETS.sub(lambda match: match.group(1) + "***", text)
    message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    if len(message) > MESSAGE_CHARS:
        message = message[: MESSAGE_CHARS - 3] + "..."
    return message
