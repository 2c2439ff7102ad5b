"""What a step did, as it returns it: for logs, tests, and the task's result in Flower.

The values are the strings the tasks have always returned (a ``StrEnum`` member is
a ``str``, and serializes as its value). Besides these, ``poll`` returns Marketo's
status of a job (``Queued``, ``Importing``, ``Complete``, ``Failed``) and ``finish``
the load's final :class:`~workers.state.records.LoadState`.
"""

from __future__ import annotations

from enum import StrEnum


class StepOutcome(StrEnum):
    # split
    SPLIT = "split"  # the whole source is split; every chunk is in line
    LEASE_HELD = "lease-held"  # another worker is splitting this load: nothing done
    LEASE_LOST = "lease-lost"  # the split lease lapsed mid-split; its new owner goes on
    NOT_SPLITTING = "not-splitting"  # the load is past splitting (a repeated task): nothing done
    SPLIT_STOPPED = "split-stopped"  # the load was cancelled: the split ended at a chunk boundary
    # submit
    SUBMITTED = "submitted"  # Marketo took the file and gave a batch id; polling begins
    NOT_SUBMITTING = "not-submitting"  # the chunk is not submitting (a repeat): nothing done
    REQUEUED = "requeued"  # its permit had been taken back: in line again, nothing sent
    BACK_IN_LINE = "back-in-line"  # the POST surely did not happen: permit returned, in line
    RETRY_MAYBE_SENT = "retry-maybe-sent"  # the POST went unanswered: retried, permit kept
    TOO_MANY_IMPORTS = "too-many-imports"  # Marketo's 1016: first in line, grants held off
    DUPLICATE = "duplicate"  # another attempt recorded its job first; this one is a double
    AWAITING_REPLICA = "awaiting-replica"  # no Redis replica confirmed the permit: nothing sent
    # poll
    STALE = "stale"  # a poll whose token is not the chunk's latest: dropped
    # collect
    COLLECTED = "collected"  # result files in S3; the chunk is done (or failed for good)
    RETRY = "retry"  # Marketo's job Failed: the chunk is in line again for another job
    NOT_COLLECTING = "not-collecting"  # the chunk is not collecting (a repeat): nothing done
    # finish
    NOT_LOADING = "not-loading"  # the load is not loading (still splitting, or finished)
    IN_PROGRESS = "in-progress"  # not every chunk is split or terminal yet
    ALREADY_FINISHED = "already-finished"  # another copy of the step closed the load first
    # any step
    QUOTA_WAIT = "quota-wait"  # the daily quota is used up: the load says so and waits
    FAILED = "failed"  # the chunk (or, from the split, the load) failed for good
    UNEXPECTED_ERROR = "unexpected-error"  # counted on the chunk or load; tried again later
