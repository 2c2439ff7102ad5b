"""Each default named once: Settings and the library dataclasses it feeds both read these.

A tool or test that builds ``BudgetLimits()`` or ``SplitOptions()`` directly gets
the same values as a worker configured by an empty environment.
"""

from __future__ import annotations

# Redis (REDIS_URL): with Sentinel, a permit is on a replica before its POST (WAIT).
REDIS_REPLICA_ACKS_WITH_SENTINEL = 1  # replicas that must acknowledge when REDIS_URL is sentinel://
REDIS_REPLICA_ACK_TIMEOUT_S = 1.0  # one WAIT; a submit not acknowledged in time tries again later

# Marketo budgets: our share of one instance's limits (half of Marketo's, as it advises).
MARKETO_RATE_LIMIT_CALLS = 50  # of Marketo's 100 calls per 20 s
MARKETO_RATE_LIMIT_WINDOW_S = 20.0
MARKETO_MAX_CONCURRENT_CALLS = 5  # of Marketo's 10
# Longer than MARKETO_CONNECT_TIMEOUT_S + MARKETO_READ_TIMEOUT_S: a permit outlives its call.
MARKETO_CALL_LEASE_S = 180.0
MARKETO_DAILY_QUOTA = 50_000
MARKETO_DAILY_QUOTA_RESERVE = 5_000  # left to the instance's other integrations
# Marketo's usage report (GET /rest/v1/stats/usage.json, one call) read this often: other
# integrations' calls beyond the reserve come off our share.
MARKETO_USAGE_CHECK_S = 600.0

# The Data Ingestion API: its own base URL and our share of its limits (half of Marketo's).
MARKETO_INGESTION_URL = "https://mkto-ingestion-api.adobe.io"
MARKETO_INGESTION_REQUESTS_PER_S = 2_500  # of the documented 5,000 per client id
MARKETO_INGESTION_DAILY_OBJECTS = 5_000_000  # of the documented 10,000,000 a day

# The Marketo client.
MARKETO_CONNECT_TIMEOUT_S = 5.0
MARKETO_READ_TIMEOUT_S = 120.0
MARKETO_MAX_RETRIES = 6
MARKETO_DESCRIBE_TTL_S = 24 * 3600

# Splitting.
CHUNK_BYTE_LIMIT = 9_900_000  # header included, below Marketo's 10,000,000 bytes
REJECT_THRESHOLD = 0.01
# Gzip bombs: how far one source object may expand when read.
SPLIT_MAX_EXPANSION_RATIO = 200.0
SPLIT_MAX_SOURCE_BYTES = 50_000_000_000

# A load's priority when its payload names none (workers/priority.py: high, normal, low).
LOAD_PRIORITY = "normal"

# The import API a load goes through (a name in workers.importers.IMPORTERS).
IMPORT_API = "bulk"
# Chunks of Data Ingestion loads being sent at once per instance (each a run of requests).
INGESTION_CHUNKS_IN_FLIGHT = 4
INGESTION_CHUNKS_IN_FLIGHT_MAX = 64

# Pushed records (mkto_bulk.push_records, workers/push/).
PUSH_MAX_AGE_S = 60.0  # a queue flushes when its oldest record is this old (a push may say less)
PUSH_MAX_RECORDS = 10_000  # records in one push; a longer push is refused as a whole
PUSH_SWEEP_INTERVAL_S = 5.0  # beat's safety sweep over the queues' flush times
PUSH_FLUSH_LEASE_S = 30.0  # one flusher per queue; a killed one's records wait this long
PUSH_NOT_ENTITLED_RECHECK_S = 3600.0  # how long a 403 4030801 sends queues to bulk import

# Logs and traces (docs/operators/logs-and-traces.md).
LOG_FORMAT = "text"  # Celery's own lines; "json": one object per line
OTEL_TRACES_EXPORTER = "none"  # "otlp": OpenTelemetry traces (the otel extra)

# The scheduler integrations (workers/integrations/): what their waits and starts default to.
AIRFLOW_CONN_ID = "mkto_bulk_default"  # the Airflow connection that names the broker
INTEGRATION_POLL_INTERVAL_S = 30.0  # how often a wait (task, trigger, sensor) reads the load
INTEGRATION_START_TIMEOUT_S = 60.0  # how long a start waits for a worker to take it
INTEGRATION_BROKER_OUTAGE_S = 300.0  # how long a wait rides out an unreachable broker
INTEGRATION_MISSING_LOAD_S = 120.0  # how long a sensor waits for an unknown load id to appear

# Change-aware syncs (workers/sync/): how long a sync key's lock outlives a load that never
# ends (its finish releases it at once).
SYNC_LOCK_TTL_S = 2 * 24 * 3600
