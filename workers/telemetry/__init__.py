"""What the workers tell operators besides metrics: structured logs and optional traces.

``context`` says what a log line is about (the load, chunk and batch a task works
on, and the task); ``logs`` sets up the log format in Celery's processes;
``traces`` is the optional OpenTelemetry tracing (the ``otel`` extra).
docs/operators/logs-and-traces.md is the operators' page.
"""
