"""The state the pipeline shares in Redis: the ledger, admission permits, leases.

The ledger's loads and chunks are read as the typed records of ``records``.

Every key name is in ``keys``; the Lua scripts are ``lua/*.lua``, read by ``scripts``.

``accounting`` is pure arithmetic over ledger records (does a load's count add up).
"""
