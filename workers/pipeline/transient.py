"""Infrastructure errors that are worth waiting out, mapped into the TransientError tree.

Redis restarting (or loading its append-only file, or failing over), a dropped S3 connection, S3
answering 5xx or ``SlowDown``: the same call succeeds a few seconds later, so
the task retries itself instead of failing and leaving the step to the
reconciler. Library code raises these raw; tasks pass each step through
``transient_boundary``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from workers.errors import RedisUnavailable, StorageUnavailable, TransientError

T = TypeVar("T")

# S3's "try again" answers besides 5xx (AWS's error-code list).
S3_RETRY_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}
)

# A primary without enough replicas (min-replicas-to-write) and a demoted primary
# still reached at its old address (READONLY) refuse writes until a failover settles.
NOT_ENOUGH_REPLICAS = "NOREPLICAS"


def as_transient(error: BaseException) -> TransientError | None:
    """The transient error that ``error`` stands for, or None if it is not one."""
    import botocore.exceptions as boto
    import redis.exceptions as redis_errors
    from kombu.exceptions import OperationalError

    if isinstance(error, TransientError):
        return error
    # BusyLoadingError (Redis reading its AOF after a restart) is a ConnectionError.
    if isinstance(error, redis_errors.ConnectionError | redis_errors.TimeoutError):
        return RedisUnavailable(f"Redis unavailable: {error}")
    if isinstance(error, redis_errors.ReadOnlyError) or (
        isinstance(error, redis_errors.ResponseError) and str(error).startswith(NOT_ENOUGH_REPLICAS)
    ):
        return RedisUnavailable(f"Redis unavailable: {error}")
    if isinstance(error, OperationalError):  # a publish that kombu's own retries gave up on
        return RedisUnavailable(f"broker unavailable: {error}")
    if isinstance(error, boto.ConnectionError | boto.HTTPClientError):
        return StorageUnavailable(f"S3 unavailable: {error}")
    if isinstance(error, boto.ClientError):
        answer = error.response.get("Error", {})
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if status >= 500 or answer.get("Code") in S3_RETRY_CODES:
            return StorageUnavailable(f"S3 unavailable: {error}")
    return None


def transient_boundary(step: Callable[[], T]) -> T:
    """Run ``step``; an infrastructure error comes out as its TransientError."""
    try:
        return step()
    except Exception as error:
        mapped = as_transient(error)
        if mapped is None or mapped is error:
            raise
        raise mapped from error
