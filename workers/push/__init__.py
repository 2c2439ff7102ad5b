"""The medium-latency queue: records pushed by producers, flushed by age or size.

``queue.py`` is a queue in Redis (a stream with a consumer group), one per
instance, object, parameters and API choice; ``request.py`` checks a push's
envelope and ``records.py`` each record against the object's describe.
"""
