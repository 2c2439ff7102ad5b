"""Our queue names, defined once: the Celery app routes to them, and a callback may not use them.

Loads enter on Celery's default queue, so an ETL's plain
``send_task("mkto_bulk.start_load", kwargs=...)`` needs no routing of its own.
"""

from __future__ import annotations

ENTRY_QUEUE = "celery"
SPLIT_QUEUE = "mkto_split"  # CPU and S3 bound, long
MARKETO_QUEUE = "mkto_marketo"  # submits and collects: Marketo API calls, uploads
POLL_QUEUE = "mkto_poll"  # short status polls and bookkeeping

OUR_QUEUES = (ENTRY_QUEUE, SPLIT_QUEUE, MARKETO_QUEUE, POLL_QUEUE)

# A callback queue is a Redis key of the broker: a name with ':' could land in our own
# keys (workers/state/keys.py), and these names are the broker's or the result backend's own.
QUEUE_NAME_MAX = 200
_RESERVED_PREFIXES = ("_kombu", "unacked", "celery-task-meta-", "celery-taskset-meta-")


def queue_refusal(name: str) -> str | None:
    """Why ``name`` may not receive callbacks, to follow the quoted name (None: it may)."""
    if name in OUR_QUEUES:
        return f"is one of our own queues ({', '.join(OUR_QUEUES)}); name the ETL's own queue"
    shape_ok = 0 < len(name) <= QUEUE_NAME_MAX and all(
        c.isascii() and (c.isalnum() or c in "_.-") for c in name
    )
    if not shape_ok or not name[0].isalnum():
        return (
            f"is not a queue name: 1 to {QUEUE_NAME_MAX} letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    if name.lower().startswith(_RESERVED_PREFIXES):
        return "is a name the broker uses for its own keys"
    return None
