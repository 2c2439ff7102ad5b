"""The medium-latency queue: records pushed by producers, flushed by age or size.

``mkto_bulk.push_records`` (``intake.py``) checks a push and appends its good
records to a queue in Redis, one per instance, object, parameters and API
choice (``queue.py``, a stream with a consumer group). A queue flushes
(``flush.py``) when its oldest record reaches ``maxAgeS`` or it holds a full
request, through the Data Ingestion API or a bulk import load (``send.py``,
``api_choice.py``). ``status.py`` reads the queues for the command line and the
metrics; ``client.py`` is the producer's Python function.
"""

from __future__ import annotations

from workers.push.client import PushResult, push_records

__all__ = ["PushResult", "push_records"]
