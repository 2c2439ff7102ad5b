"""The Data Ingestion API (``/subscriptions/{munchkinId}/...``) beside bulk import.

``gate`` answers the calls, ``validate_*`` read request bodies, ``pending``
holds accepted requests until their apply time, ``apply_*`` write them into
the same record store bulk import writes, and ``admin`` shows the outcomes.
"""
