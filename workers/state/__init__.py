"""The state the pipeline shares in Redis: the ledger, admission permits, the split lease.

``accounting`` is pure arithmetic over ledger records (does a load's count add up).
"""
