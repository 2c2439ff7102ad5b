"""One typed settings object, read from the environment and validated at start.

Every knob of the system lives here so that operators have a single reference:
the configuration page of the docs is generated from these fields and their
descriptions (``workers/settings_doc.py``), so it cannot drift. It is over 300
lines for that reason: one field per setting, all in one class. The defaults
themselves are named in ``workers/defaults.py``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers import defaults
from workers.errors import SettingsError
from workers.queues import queue_refusal

# Marketo's hard limits; our shares of them are settings, the limits are not.
MARKETO_MAX_OUTSTANDING_JOBS = 10
MARKETO_MAX_FILE_BYTES = 10_000_000

# A Munchkin id as Marketo writes it (also the first label of its REST host).
MUNCHKIN_PATTERN = re.compile(r"^[0-9]{3}-[A-Za-z]{3}-[0-9]{3}$")

# Gzip bombs: how far one source object may expand when read (also SplitOptions' defaults).
DEFAULT_SPLIT_MAX_EXPANSION_RATIO = defaults.SPLIT_MAX_EXPANSION_RATIO
DEFAULT_SPLIT_MAX_SOURCE_BYTES = defaults.SPLIT_MAX_SOURCE_BYTES


class LogFormat(StrEnum):
    """How workers and beat write their logs."""

    TEXT = "text"
    JSON = "json"


class TracesExporter(StrEnum):
    """Where OpenTelemetry traces go (``none``: not traced)."""

    NONE = "none"
    OTLP = "otlp"


class Settings(BaseSettings):
    """Environment-driven configuration (variable names are the field names, upper-cased)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    # Broker and state.
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description=(
            "Broker, results and all shared state: redis://host:port/db, or Sentinel's "
            "sentinel://host:26379;sentinel://host2:26379 (the primary's password, if any, in "
            "the first address: sentinel://:password@host:26379)"
        ),
    )
    redis_sentinel_master: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._-]{1,128}$",
        description="The name Sentinel monitors the primary under (required with sentinel://)",
    )
    redis_sentinel_password: SecretStr | None = Field(
        default=None,
        description="The sentinels' own password (requirepass in sentinel.conf), if they have one",
    )
    redis_min_replica_acks: int | None = Field(
        default=None,
        ge=0,
        le=16,
        description=(
            "Replicas that must hold a chunk's import permit (Redis WAIT) before its POST; "
            "unset: 1 with sentinel://, 0 otherwise"
        ),
    )
    redis_replica_ack_timeout_s: float = Field(
        default=defaults.REDIS_REPLICA_ACK_TIMEOUT_S,
        gt=0,
        le=30,
        description="How long a submit waits for those replicas before it tries again later",
    )

    # Marketo instance.
    marketo_rest_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:8080"),
        description="Base of the REST API, e.g. https://123-ABC-456.mktorest.com",
    )
    marketo_identity_url: AnyHttpUrl | None = Field(
        default=None, description="Identity endpoint; defaults to <rest url>/identity"
    )
    marketo_client_id: str = Field(default="mkto-bulk", description="The API user's client id")
    marketo_client_secret: SecretStr | None = Field(
        default=None, description="The API user's client secret (required by workers only)"
    )
    marketo_instance: str | None = Field(
        default=None, description="Name that keys shared budgets; defaults to the REST host"
    )

    # Marketo budgets: our share of the instance's limits, counted across all workers.
    marketo_rate_limit_calls: int = Field(
        default=defaults.MARKETO_RATE_LIMIT_CALLS,
        ge=1,
        le=100,
        description="Our share of Marketo's 100 calls per 20 s: calls per window",
    )
    marketo_rate_limit_window_s: float = Field(
        default=defaults.MARKETO_RATE_LIMIT_WINDOW_S,
        gt=0,
        description="The window of MARKETO_RATE_LIMIT_CALLS",
    )
    marketo_max_concurrent_calls: int = Field(
        default=defaults.MARKETO_MAX_CONCURRENT_CALLS,
        ge=1,
        le=10,
        description="Our share of Marketo's 10 concurrent calls",
    )
    marketo_call_lease_s: float = Field(
        default=defaults.MARKETO_CALL_LEASE_S,
        gt=0,
        description=(
            "How long a crashed process can hold a call permit (longer than connect + read timeout)"
        ),
    )
    marketo_daily_quota: int = Field(
        default=defaults.MARKETO_DAILY_QUOTA,
        ge=1,
        description=(
            "Our share of the instance's daily call quota (resets at midnight America/Chicago)"
        ),
    )
    marketo_daily_quota_reserve: int = Field(
        default=defaults.MARKETO_DAILY_QUOTA_RESERVE,
        ge=0,
        description="What we leave of the daily quota to other integrations",
    )
    marketo_usage_check_s: float = Field(
        default=defaults.MARKETO_USAGE_CHECK_S,
        ge=0,
        le=86_400,
        description=(
            "How often beat reads Marketo's daily usage report (one API call): what other "
            "integrations used beyond MARKETO_DAILY_QUOTA_RESERVE comes off our share; 0: never"
        ),
    )
    marketo_api_user: str | None = Field(
        default=None,
        max_length=255,
        description=(
            "The API user of MARKETO_CLIENT_ID as the usage report names it (Admin > Users & "
            "Roles); unset: other integrations' calls are the report's total minus ours as counted"
        ),
    )

    # The Data Ingestion API (loads and queues with "api": "ingestion").
    marketo_ingestion_url: AnyHttpUrl = Field(
        default=AnyHttpUrl(defaults.MARKETO_INGESTION_URL),
        description="Base of the Data Ingestion API (the sandbox serves it under its own URL)",
    )
    marketo_munchkin_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9-]{1,64}$",
        description=(
            "The instance's Munchkin id, e.g. 123-ABC-456 (Admin > My Account); defaults "
            "to the first label of the REST host"
        ),
    )
    marketo_ingestion_requests_per_s: int = Field(
        default=defaults.MARKETO_INGESTION_REQUESTS_PER_S,
        ge=1,
        le=5_000,
        description="Our share of the Data Ingestion API's 5,000 requests per second per client id",
    )
    marketo_ingestion_daily_objects: int = Field(
        default=defaults.MARKETO_INGESTION_DAILY_OBJECTS,
        ge=1,
        le=10_000_000,
        description=(
            "Our share of the Data Ingestion API's 10,000,000 objects a day "
            "(resets at midnight America/Chicago)"
        ),
    )
    marketo_connect_timeout_s: float = Field(
        default=defaults.MARKETO_CONNECT_TIMEOUT_S,
        gt=0,
        description="HTTP connect timeout of a Marketo call",
    )
    marketo_read_timeout_s: float = Field(
        default=defaults.MARKETO_READ_TIMEOUT_S,
        gt=0,
        description="HTTP read timeout of a Marketo call",
    )
    marketo_max_retries: int = Field(
        default=defaults.MARKETO_MAX_RETRIES,
        ge=0,
        description="Retries of a transient Marketo error before it is raised",
    )
    marketo_describe_ttl_s: int = Field(
        default=defaults.MARKETO_DESCRIBE_TTL_S,
        ge=0,
        description="How long describe results are cached in Redis",
    )

    # Admission: outstanding (Queued + Importing) jobs per instance.
    max_outstanding_jobs: int = Field(
        default=10,
        ge=1,
        le=MARKETO_MAX_OUTSTANDING_JOBS,
        description="Our import jobs Queued + Importing per instance (never above 10)",
    )

    ingestion_chunks_in_flight: int = Field(
        default=defaults.INGESTION_CHUNKS_IN_FLIGHT,
        ge=1,
        le=defaults.INGESTION_CHUNKS_IN_FLIGHT_MAX,
        description=(
            "Chunks of Data Ingestion loads sent at once per instance (their own line, "
            "apart from bulk import's jobs)"
        ),
    )

    # Pipeline pacing. Marketo asks for polls every 5 to 30 s; tests shorten these.
    poll_min_s: float = Field(
        default=5.0,
        gt=0,
        description="Shortest wait between polls of a job (Marketo advises 5 to 30 s)",
    )
    poll_max_s: float = Field(
        default=30.0,
        gt=0,
        le=120,
        description="Longest wait between polls of a job (Marketo advises 5 to 30 s)",
    )
    permit_lease_s: float = Field(
        default=300.0,
        gt=0,
        description="How long an import permit lives between renewals (every poll renews)",
    )
    # A splitter renews its lease every SPLIT_LEASE_RENEW_S; a killed one frees it
    # within SPLIT_LEASE_S, and the next reconciler sweep runs the split again.
    split_lease_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description=(
            "The split lease's lifetime: a killed splitter's load is split again after it lapses,"
            " at the next reconciler sweep"
        ),
    )
    split_lease_renew_s: float = Field(
        default=5.0,
        gt=0,
        description="How often a running split renews its lease (at most a third of SPLIT_LEASE_S)",
    )
    job_max_attempts: int = Field(
        default=3, ge=1, le=10, description="Times a chunk is submitted when its job ends Failed"
    )
    too_many_imports_hold_s: float = Field(
        default=30.0,
        gt=0,
        le=120,
        description="How long every grant waits after a 1016 (Marketo's queue full)",
    )
    # With SPLIT_LEASE_S 30 s, a dead splitter's load is split again within 30 + 20 s.
    reconcile_interval_s: float = Field(
        default=20.0,
        gt=0,
        le=3600,
        description=(
            "How often the reconciler sweeps (a dead splitter's load is split again within "
            "SPLIT_LEASE_S + this)"
        ),
    )
    # A step's error that is neither transient nor an outage gives up after this many.
    unexpected_error_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description=(
            "Times a step is tried after an error that is neither transient nor an outage before "
            "its chunk (or split) fails and frees what it held"
        ),
    )
    # While the daily share is used, waiting steps look again this often (a raised
    # quota is picked up without waiting for midnight).
    quota_recheck_s: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description=(
            "While our daily share is used up, how often waiting loads look again (a raised quota"
            " is used before midnight)"
        ),
    )

    # How long a publish (a retry, the next step) waits for the broker to come back
    # before the task gives its message back.
    broker_outage_wait_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description=(
            "How long a task's publish (its retry, the next step) waits for Redis to come back"
        ),
    )

    # Nightly loads (beat). Unset SCHEDULE_FILE: beat runs only the reconciler sweep.
    schedule_file: Path | None = Field(
        default=None, description="TOML file of scheduled loads ([[load]] entries), read by beat"
    )
    schedule_source_wait_s: float = Field(
        default=3 * 3600, gt=0, description="How long after its time a run waits for its source"
    )
    schedule_tick_s: float = Field(
        default=30.0, gt=0, le=60, description="How often beat checks each schedule"
    )
    # A standby beat polls the lock every BEAT_LOCK_TIMEOUT_S / 3 s and takes over once
    # the lock expires: within 4/3 of the timeout, so at most 60 s.
    beat_lock_timeout_s: int = Field(
        default=30,
        ge=3,
        le=45,
        description="Beat's lock in Redis; a standby beat takes over within 4/3 of it",
    )

    # Pushed records (mkto_bulk.push_records): queues flushed by age or size.
    push_max_age_s: float = Field(
        default=defaults.PUSH_MAX_AGE_S,
        ge=1,
        le=3600,
        description=(
            "How old a queue's oldest pushed record may get before the queue is flushed "
            "(a push's maxAgeS may ask for less)"
        ),
    )
    push_sweep_interval_s: float = Field(
        default=defaults.PUSH_SWEEP_INTERVAL_S,
        gt=0,
        le=60,
        description=(
            "How often beat sweeps the push queues for a flush that is due (a safety net "
            "behind each queue's own scheduled flush)"
        ),
    )
    push_flush_lease_s: float = Field(
        default=defaults.PUSH_FLUSH_LEASE_S,
        ge=5,
        le=600,
        description=(
            "A queue's flush lease: a killed flusher's records are claimed again after it lapses"
        ),
    )

    # Object storage.
    # Set for SeaweedFS, MinIO or a local endpoint; unset on AWS.
    s3_endpoint_url: str | None = Field(
        default=None, description="An S3-compatible endpoint (SeaweedFS, MinIO, moto); unset on AWS"
    )
    s3_region: str = Field(default="us-east-1", description="The buckets' region")
    staging_uri: str = Field(
        default="s3://mkto-bulk/loads", description="Where chunks, results and reports are written"
    )

    # What a load's payload may make the workers do.
    allow_local_sources: bool = Field(
        default=False,
        description="Accept local paths as load sources (development only; workers read s3://)",
    )
    callback_queues: str = Field(
        default="",
        description="Comma-separated queues a callback may go to; empty: any queue not ours",
    )

    # Splitting.
    chunk_byte_limit: int = Field(
        default=defaults.CHUNK_BYTE_LIMIT,
        ge=1024,
        lt=MARKETO_MAX_FILE_BYTES,
        description=(
            "The largest file submitted, header included (below Marketo's 10,000,000 bytes)"
        ),
    )
    reject_threshold: float = Field(
        default=defaults.REJECT_THRESHOLD,
        ge=0,
        le=1,
        description="The share of rejected records above which a source fails",
    )
    split_max_expansion_ratio: float = Field(
        default=DEFAULT_SPLIT_MAX_EXPANSION_RATIO,
        gt=1,
        description="A gzip source expanding past this many times its stored size is refused",
    )
    split_max_source_bytes: int = Field(
        default=DEFAULT_SPLIT_MAX_SOURCE_BYTES,
        ge=1,
        description="Most bytes one source object may hold once decompressed",
    )

    # Logs and traces (docs/operators/logs-and-traces.md).
    log_format: LogFormat = Field(
        default=LogFormat(defaults.LOG_FORMAT),
        description=(
            "Workers' and beat's logs: text (Celery's lines), or json (one object per line, with "
            "load_id, chunk, batch_id, task_id and task_name as fields)"
        ),
    )
    otel_traces_exporter: TracesExporter = Field(
        default=TracesExporter(defaults.OTEL_TRACES_EXPORTER),
        description=(
            "OpenTelemetry traces of every load (the otel extra): none, or otlp (OTLP over HTTP "
            "to OTEL_EXPORTER_OTLP_ENDPOINT, http://localhost:4318 unless set)"
        ),
    )

    @field_validator("log_format", "otel_traces_exporter", mode="before")
    @classmethod
    def _choices_ignore_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_is_a_redis_url(cls, value: str) -> str:
        if value.startswith("sentinel://"):
            if not all(is_sentinel_address(part) for part in value.split(";")):
                raise ValueError(
                    "must list sentinels as sentinel://host:port;sentinel://host2:port"
                )
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix") or (
            parts.scheme != "unix" and not parts.hostname
        ):
            raise ValueError(
                "must look like redis://host:port/db (or rediss://, unix://, "
                "sentinel://host:port;sentinel://host2:port)"
            )
        return value

    @field_validator("schedule_file", "redis_sentinel_master", "redis_sentinel_password",
                     "redis_min_replica_acks", "marketo_api_user", mode="before")  # fmt: skip
    @classmethod
    def _an_empty_value_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("callback_queues")
    @classmethod
    def _callback_queues_are_not_ours(cls, value: str) -> str:
        for name in (part.strip() for part in value.split(",")):
            problem = queue_refusal(name) if name else None
            if problem:
                raise ValueError(f'"{name}" {problem}')
        return value

    @field_validator("staging_uri")
    @classmethod
    def _staging_is_s3(cls, value: str) -> str:
        if not value.startswith("s3://") or len(value) <= len("s3://"):
            raise ValueError("must be an s3://bucket/prefix URI")
        value = value.rstrip("/")
        _, _, prefix = value[len("s3://") :].partition("/")
        if prefix and {"", ".", ".."} & set(prefix.split("/")):
            # SeaweedFS (a file system underneath) renames "a//b" to "a/b" and refuses "."/"..".
            raise ValueError(
                "must not have an empty, '.' or '..' segment in its prefix: "
                "S3-compatible servers rename or refuse such keys"
            )
        return value

    @model_validator(mode="after")
    def _sentinels_name_their_primary(self) -> Settings:
        if self.redis_sentinel and not self.redis_sentinel_master:
            raise ValueError("REDIS_SENTINEL_MASTER is required when REDIS_URL lists sentinels")
        return self

    @model_validator(mode="after")
    def _poll_bounds_are_ordered(self) -> Settings:
        if self.poll_min_s > self.poll_max_s:
            raise ValueError("POLL_MIN_S must not be above POLL_MAX_S")
        return self

    @model_validator(mode="after")
    def _a_split_lease_is_renewed_in_time(self) -> Settings:
        # Three renewals per lifetime: one late or failed renewal never loses the lease.
        if self.split_lease_renew_s * 3 > self.split_lease_s:
            raise ValueError("SPLIT_LEASE_RENEW_S must be at most a third of SPLIT_LEASE_S")
        return self

    @model_validator(mode="after")
    def _a_call_lease_outlives_the_call(self) -> Settings:
        # A permit whose lease ends while its call is still running could be
        # handed to another process, breaking the concurrency share.
        longest_call = self.marketo_connect_timeout_s + self.marketo_read_timeout_s
        if self.marketo_call_lease_s <= longest_call:
            raise ValueError(
                "MARKETO_CALL_LEASE_S must be longer than MARKETO_CONNECT_TIMEOUT_S + "
                f"MARKETO_READ_TIMEOUT_S ({longest_call:g} s)"
            )
        return self

    @property
    def callback_queue_allowlist(self) -> frozenset[str]:
        """CALLBACK_QUEUES as a set (empty: any queue that is not ours)."""
        return frozenset(q.strip() for q in self.callback_queues.split(",") if q.strip())

    @property
    def redis_sentinel(self) -> bool:
        """Whether REDIS_URL lists Sentinel's addresses (sentinel://) rather than one server."""
        return self.redis_url.startswith("sentinel://")

    @property
    def replica_acks_before_post(self) -> int:
        """Replicas that must acknowledge a permit before its POST (REDIS_MIN_REPLICA_ACKS)."""
        if self.redis_min_replica_acks is not None:
            return self.redis_min_replica_acks
        return defaults.REDIS_REPLICA_ACKS_WITH_SENTINEL if self.redis_sentinel else 0

    @property
    def identity_url(self) -> str:
        if self.marketo_identity_url is not None:
            return str(self.marketo_identity_url).rstrip("/")
        return str(self.marketo_rest_url).rstrip("/") + "/identity"

    @property
    def rest_url(self) -> str:
        return str(self.marketo_rest_url).rstrip("/")

    @property
    def munchkin_id(self) -> str | None:
        """MARKETO_MUNCHKIN_ID, or the REST host's first label when it is one (123-ABC-456)."""
        if self.marketo_munchkin_id:
            return self.marketo_munchkin_id
        label = (urlsplit(self.rest_url).hostname or "").split(".", 1)[0]
        return label.upper() if MUNCHKIN_PATTERN.match(label) else None

    @property
    def instance(self) -> str:
        return self.marketo_instance or (urlsplit(self.rest_url).netloc or "default")


def is_sentinel_address(part: str) -> bool:
    """One address of a sentinel:// list: sentinel://[user:password@]host[:port][/db]."""
    parts = urlsplit(part)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return False
    path_ok = parts.path in ("", "/") or parts.path.lstrip("/").isdigit()
    return parts.scheme == "sentinel" and bool(parts.hostname) and port_ok and path_ok


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad variable, naming the variable and never echoing its value."""
    problems = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper()
        reason = (
            "is required but not set"
            if item["type"] == "missing"
            else item["msg"].removeprefix("Value error, ")
        )
        problems.append(f"{name} {reason}" if name else reason)
    return "invalid settings: " + "; ".join(problems)


def load_settings(*, require_marketo: bool = False) -> Settings:
    """Read and validate the environment, raising SettingsError with a one-line message.

    ``require_marketo`` is set by everything that talks to Marketo (the workers);
    tools that only touch S3, such as ``mkto-bulk split``, run without a secret.
    """
    try:
        settings = Settings()
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
    if require_marketo and settings.marketo_client_secret is None:
        raise SettingsError("invalid settings: MARKETO_CLIENT_SECRET is required but not set")
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings of a worker, validated once (Marketo credentials required)."""
    return load_settings(require_marketo=True)
