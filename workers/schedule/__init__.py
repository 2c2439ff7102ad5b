"""Scheduled loads: the schedule file (``config``, ``cron``) and each entry's runs (``runs``).

Beat's own entries are built by ``beat_schedule``, which depends on this package,
never the other way round.
"""

RUN_SCHEDULED_TASK = "mkto_bulk.run_scheduled"
