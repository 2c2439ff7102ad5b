"""Change-aware syncs: each row's fingerprint against the state the last completed sync of
the same key left in object storage (``fingerprint.py``, ``store.py``, ``spool.py``,
``diff.py``)."""
