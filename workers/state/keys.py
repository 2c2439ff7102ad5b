"""Every Redis key the workers read or write, named in one place.

The strings are part of the data: a running fleet, the reconciler and the
command line find each other's records under them, so a key here is renamed
only together with a migration. Each function says what the key holds and
its Redis type. Nothing else under ``workers/`` spells a ``mkto:`` key.
"""

from __future__ import annotations

from workers.defaults import IMPORT_API

PREFIX = "mkto:"

# Loads and chunks (workers/state/ledger.py) ----------------------------------

LOADS = f"{PREFIX}loads"
"""Sorted set: every load id, scored by its creation time (newest last)."""

ACTIVE_LOADS = f"{PREFIX}loads:active"
"""Set: the ids of loads not yet terminal, the set the reconciler sweeps."""


LOAD_PREFIX = f"{PREFIX}load:"
"""What every load's record key starts with (the admission scripts read a load's state)."""


def load(load_id: str) -> str:
    """Hash: one load's record (state, params, counts, report URI)."""
    return f"{LOAD_PREFIX}{load_id}"


def load_chunks(load_id: str) -> str:
    """Set: the indexes of a load's chunks recorded so far."""
    return f"{load(load_id)}:chunks"


def chunk_prefix(load_id: str) -> str:
    """What the records of a load's chunks start with (a cancel's script adds the index)."""
    return f"{load(load_id)}:chunk:"


def chunk(load_id: str, index: int) -> str:
    """Hash: one chunk's record (state, URI, rows, Marketo batch id)."""
    return f"{chunk_prefix(load_id)}{index}"


def idempotency(idempotency_key: str) -> str:
    """String: the id of the load created under a payload's ``idempotencyKey``."""
    return f"{PREFIX}idempotency:{idempotency_key}"


def idempotency_payload(idempotency_key: str) -> str:
    """String: the SHA-256 of the params first sent under ``idempotencyKey``."""
    return f"{PREFIX}idempotency-payload:{idempotency_key}"


# Leases and locks (workers/state/lease.py) -----------------------------------


def split_lease(load_id: str) -> str:
    """String with a TTL: the owner token of the one splitter of a load."""
    return f"{load(load_id)}:split_lease"


def submit_lock(chunk_id: str) -> str:
    """String with a TTL: the owner token of the attempt POSTing a chunk right now."""
    return f"{PREFIX}chunk:{chunk_id}:submitting"


def sync_lock(instance: str, object_name: str, sync_key: str) -> str:
    """String with a TTL: the id of the one load running a sync key (workers/sync/lock.py)."""
    return f"{PREFIX}sync:{instance}:{object_name}:{sync_key}:lock"


# Permits (workers/state/admission.py) ----------------------------------------


def admission_lane(instance: str, api: str) -> str:
    """What keys an import API's admission lane: bulk import's is the instance's own."""
    return instance if api == IMPORT_API else f"{instance}:{api}"


def admission_prefix(instance: str) -> str:
    """The prefix of an instance's permit keys; the braces keep them in one cluster slot."""
    return f"{PREFIX}admission:{{{instance}}}"


def admission_waiting(instance: str) -> str:
    """Sorted set: chunk ids waiting for a permit, one line for every load (before priorities).

    Kept only so that chunks a fleet of the earlier version left waiting are not lost: the
    grant moves them into their loads' lines (``admission_line``) and deletes the key.
    """
    return f"{admission_prefix(instance)}:waiting"


def admission_line_prefix(instance: str) -> str:
    """What every load's line on the lane starts with (the scripts add the load id)."""
    return f"{admission_prefix(instance)}:line:"


def admission_line(instance: str, load_id: str) -> str:
    """Sorted set: one load's chunk ids waiting for a permit, scored by their place in line."""
    return f"{admission_line_prefix(instance)}{load_id}"


def admission_ring_prefix(instance: str) -> str:
    """What the lane's rings start with (the scripts add the priority)."""
    return f"{admission_prefix(instance)}:ring:"


def admission_ring(instance: str, priority: str) -> str:
    """Sorted set: the loads of one priority with chunks waiting, scored by their last grant."""
    return f"{admission_ring_prefix(instance)}{priority}"


def admission_permits(instance: str) -> str:
    """Sorted set: chunk ids holding a permit, scored by the lease's end (ms)."""
    return f"{admission_prefix(instance)}:permits"


def admission_hold(instance: str) -> str:
    """String: until when (ms) no permit is granted, after Marketo's 1016."""
    return f"{admission_prefix(instance)}:hold_until"


def admission_sequence(instance: str) -> str:
    """String (counter): the next place in line."""
    return f"{admission_prefix(instance)}:sequence"


# Replication (workers/state/replication.py) ----------------------------------

REPLICATION_MARK = f"{PREFIX}replication:mark"
"""String (counter): bumped by a submit right before its WAIT, so the WAIT covers every
earlier write of every process (the permit, the chunk's ``post_started_at``)."""


# Import jobs in flight (workers/pipeline/) -----------------------------------


def jobs(instance: str) -> str:
    """Sorted set: chunk ids with a Marketo job in flight, scored by submission time."""
    return f"{PREFIX}{instance}:jobs"


def import_rate(instance: str) -> str:
    """String: the measured import rate (rows per second), for poll delays."""
    return f"{PREFIX}{instance}:import_rate"


# The Marketo client (workers/marketo/) ---------------------------------------


def call_rate(instance: str) -> str:
    """Sorted set: recent API call holders, scored by when each leaves the rate window."""
    return f"{PREFIX}{instance}:rate"


def call_inflight(instance: str) -> str:
    """Sorted set: API calls in progress, scored by their lease's end."""
    return f"{PREFIX}{instance}:inflight"


def call_holdoff(instance: str) -> str:
    """String with a TTL: until when no call starts (after 606/615)."""
    return f"{PREFIX}{instance}:holdoff"


def daily_quota_override(instance: str) -> str:
    """String: the daily API quota set by ``mkto-bulk quota``, instead of the setting."""
    return f"{PREFIX}{instance}:daily_quota_override"


def daily_calls(instance: str, day: str) -> str:
    """String (counter) with a TTL: API calls counted on one Marketo day (ISO date)."""
    return f"{PREFIX}{instance}:daily:{day}"


def marketo_usage(instance: str, day: str) -> str:
    """Hash with a TTL: Marketo's usage report as last read on one Marketo day (ISO date):
    ``total``, ``ours``, ``others`` (calls) and ``read_at`` (epoch seconds)."""
    return f"{PREFIX}{instance}:usage:{day}"


def ingestion_rate(client_id: str) -> str:
    """Sorted set: Data Ingestion requests of one client id in the last second (rate window)."""
    return f"{PREFIX}ingestion:rate:{client_id}"


def ingestion_daily_objects(instance: str, day: str) -> str:
    """String (counter) with a TTL: Data Ingestion objects sent on one Marketo day (ISO date)."""
    return f"{PREFIX}{instance}:ingestion:daily:{day}"


def ingestion_job(job_id: str) -> str:
    """Hash with a TTL: one chunk sent to the Data Ingestion API, each request's outcome."""
    return f"{PREFIX}ingestion:job:{job_id}"


def ingestion_holdoff(client_id: str) -> str:
    """String: epoch seconds until which no worker sends (after Marketo's 429 429001)."""
    return f"{PREFIX}ingestion:holdoff:{client_id}"


def client_metrics(instance: str) -> str:
    """Hash: the Marketo client's counters, by name."""
    return f"{PREFIX}{instance}:metrics"


def lookup_cache(instance: str, path: str) -> str:
    """String with a TTL: a cached lookup answer (JSON); ``path="*"`` matches them all."""
    return f"{PREFIX}{instance}:lookup:{path}"


def describe_cache(instance: str, path: str) -> str:
    """String with a TTL: a cached describe answer (JSON); ``path="*"`` matches them all."""
    return f"{PREFIX}{instance}:describe:{path}"


def token(client_id: str) -> str:
    """String with a TTL: the cached access token of a client id (JSON with its expiry)."""
    return f"{PREFIX}token:{client_id}"


def token_lock(client_id: str) -> str:
    """String with a TTL: the owner token of the one worker refreshing the access token."""
    return f"{token(client_id)}:lock"


def token_denied(client_id: str) -> str:
    """String with a TTL: why the identity endpoint refused the credentials just now."""
    return f"{token(client_id)}:denied"


# Scheduled loads and beat (workers/schedule/, workers/celery_app.py) ---------

SCHEDULES = f"{PREFIX}schedules"
"""Hash: entry name -> the scheduled load's table (JSON), as beat published it."""


def schedule_run(name: str) -> str:
    """Hash: a scheduled load's latest run (state, fire time, load id)."""
    return f"{PREFIX}schedule:{name}"


REDBEAT_PREFIX = f"{PREFIX}redbeat:"
"""The prefix under which celery-redbeat keeps beat's lock and schedule."""


# Queues of pushed records (workers/push/) -------------------------------------


def push_prefix(instance: str) -> str:
    """The prefix of an instance's push queue keys; the braces keep them in one cluster slot."""
    return f"{PREFIX}push:{{{instance}}}"


def push_queues(instance: str) -> str:
    """Set: the ids of the instance's push queues (what status and the metrics list)."""
    return f"{push_prefix(instance)}:queues"


def push_due(instance: str) -> str:
    """Sorted set: queue ids scored by when each must flush next (epoch seconds)."""
    return f"{push_prefix(instance)}:due"


def push_stream(instance: str, queue_id: str) -> str:
    """Stream (consumer group ``flush``): a queue's records not yet sent or failed."""
    return f"{push_prefix(instance)}:queue:{queue_id}:records"


def push_queue(instance: str, queue_id: str) -> str:
    """Hash: a queue's object and parameters, counters, and the batch being flushed."""
    return f"{push_prefix(instance)}:queue:{queue_id}"


def push_flush_lease(instance: str, queue_id: str) -> str:
    """String with a TTL: the owner token of the one flusher of a queue."""
    return f"{push_queue(instance, queue_id)}:flushing"


def push_not_entitled(instance: str) -> str:
    """String with a TTL: Marketo's 403 4030801 answer, remembered; queues go to bulk import."""
    return f"{push_prefix(instance)}:ingestion_not_entitled"
