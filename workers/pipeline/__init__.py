"""The load's steps, one module per task (``start``, ``split``, ``submit``, ``poll``,
``collect``, ``finish``, ``reconcile``), and what they share: the runtime, the
dispatcher seam, error and quota-wait handling.
"""
