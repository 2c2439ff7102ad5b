"""Change-aware syncs: each row's fingerprint against the state the last completed sync of
the same key left in object storage (``fingerprint.py``, ``store.py``, ``spool.py``,
``diff.py``), and one load per sync key at a time (``lock.py``)."""

# Whether loads act on a ``syncKey`` yet: the state and its diff are built, the split does
# not drop unchanged rows yet, so a payload naming one is refused rather than ignored.
SYNCS_SERVED = False
