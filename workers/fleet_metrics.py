"""Prometheus metrics for the whole fleet, read from Redis at each scrape.

Flower's ``/metrics`` covers Celery (tasks, queues, workers). What operators
alert on beyond that lives in Redis, shared by every worker: loads that stopped
moving, the import jobs we hold in Marketo's queue, our share of the daily
quota, and Marketo's error codes (1016, 606, ...). One collector reads it all
on each scrape, so any number of exporters agree and none keeps state.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from workers.importers import IMPORTERS
from workers.load_progress import read_loads
from workers.marketo import usage
from workers.marketo.budgets import BudgetLimits, Budgets, marketo_day, next_reset
from workers.marketo.ingestion_budgets import IngestionBudgets, IngestionLimits
from workers.marketo.metrics import CODE_PREFIX, Metrics
from workers.pipeline.quota_wait import REASON_DAILY_QUOTA
from workers.push.status import queue_statuses
from workers.settings import Settings
from workers.state import keys as redis_keys
from workers.state.accounting import COUNTS_MISMATCH_METRIC
from workers.state.admission import Admission
from workers.state.ledger import TERMINAL_LOAD_STATES, Ledger, LoadState

STUCK_AFTER_S = 1800.0  # a live load whose ledger has not moved for this long is stuck
LOADS_SCANNED = 1000  # the newest loads looked at on each scrape

_MARKETO_COUNTERS = {
    "calls": "Marketo API calls made (all workers)",
    "retries": "Marketo calls retried after a transient error",
    "failures": "Marketo calls that failed after their retries",
    "holdoffs_606": "times every worker held off after a 606 rate limit",
    "token_refreshes": "access tokens refreshed after 601/602",
    "possible_double_submits": "job creates repeated after a connection was lost",
}


class FleetCollector(Collector):
    """Reads loads, admission, budgets and Marketo counters for one instance."""

    def __init__(
        self, client: redis.Redis, settings: Settings, stuck_after_s: float = STUCK_AFTER_S
    ) -> None:
        self.redis = client
        self.instance = settings.instance
        self.stuck_after_s = stuck_after_s
        self.admission = Admission(client, self.instance, settings.max_outstanding_jobs)
        limits = BudgetLimits(
            daily_quota=settings.marketo_daily_quota,
            daily_quota_reserve=settings.marketo_daily_quota_reserve,
        )
        self.budgets = Budgets(client, self.instance, limits)
        self.metrics = Metrics(client, self.instance)
        self.lanes = {
            api: Admission(
                client,
                redis_keys.admission_lane(self.instance, api),
                *importer.lane(settings),  # chunks in flight, and its ceiling
            )
            for api, importer in IMPORTERS.items()
        }
        self.ingestion_budgets = IngestionBudgets(
            client,
            instance=self.instance,
            client_id=settings.marketo_client_id,
            limits=IngestionLimits(daily_objects=settings.marketo_ingestion_daily_objects),
        )

    def collect(self) -> Iterator[Metric]:
        yield from self._loads()
        yield from self._admission()
        yield from self._marketo()
        yield from self._ingestion()
        yield from self._push_queues()

    def _loads(self) -> Iterator[Metric]:
        now = time.time()
        loads = read_loads(self.redis, Ledger(self.redis).recent_loads(LOADS_SCANNED), now)
        states = Counter(load.state for load in loads)
        live = [load for load in loads if load.live]
        waiting = Counter(load.waiting_reason for load in live if load.waiting_reason)
        quiet = [now - load.moved_at for load in live]
        by_state = GaugeMetricFamily(
            "mkto_bulk_loads", "loads among the newest recorded, by state", labels=["state"]
        )
        for state in sorted(set(states) | {LoadState.COUNTS_MISMATCH.value}):
            by_state.add_metric([state], states.get(state, 0))
        yield by_state
        by_reason = GaugeMetricFamily(
            "mkto_bulk_loads_waiting",
            "live loads that wait, by reason (daily_quota: until the reset or a raised quota)",
            labels=["reason"],
        )
        for reason in sorted(set(waiting) | {REASON_DAILY_QUOTA}):
            by_reason.add_metric([reason], waiting.get(reason, 0))
        yield by_reason
        yield GaugeMetricFamily(
            "mkto_bulk_loads_stuck",
            f"live loads of which neither the load nor a chunk has changed for "
            f"{self.stuck_after_s:g} s (a wait for the daily quota counts from the reset)",
            value=sum(seconds > self.stuck_after_s for seconds in quiet),
        )
        yield GaugeMetricFamily(
            "mkto_bulk_load_quiet_seconds_max",
            "seconds since the quietest live load (the load or any of its chunks) last changed",
            value=max(quiet, default=0.0),
        )
        ended = GaugeMetricFamily(
            "mkto_bulk_load_last_ended_timestamp_seconds",
            "when the latest load that ended in each final state finished, Unix time (0: none)",
            labels=["state"],
        )
        for state in sorted(TERMINAL_LOAD_STATES):
            times = [load.ended_at or 0.0 for load in loads if load.state == state]
            ended.add_metric([state], max(times, default=0.0))
        yield ended

    def _admission(self) -> Iterator[Metric]:
        snapshot = self.admission.snapshot()
        labels = ["instance"]
        for name, help_text, value in (
            ("import_jobs_outstanding", "our jobs queued or importing", snapshot.outstanding),
            ("chunks_waiting", "chunks waiting for an import slot", snapshot.waiting),
            ("too_many_imports_hold_seconds", "time left of a hold after a 1016", snapshot.hold_s),
        ):
            gauge = GaugeMetricFamily(f"mkto_bulk_{name}", help_text, labels=labels)
            gauge.add_metric([self.instance], value)
            yield gauge
        by_priority = GaugeMetricFamily(
            "mkto_bulk_chunks_waiting_by_priority",
            "chunks waiting for an import slot, by their load's priority (high goes first)",
            labels=["instance", "priority"],
        )
        for priority, waiting in snapshot.waiting_by_priority.items():
            by_priority.add_metric([self.instance, priority], waiting)
        yield by_priority

    def _marketo(self) -> Iterator[Metric]:
        labels = ["instance"]
        daily = GaugeMetricFamily(
            "mkto_bulk_marketo_daily_calls", "calls counted today (America/Chicago)", labels=labels
        )
        daily.add_metric([self.instance], self.budgets.daily_count())
        yield daily
        share = GaugeMetricFamily(
            "mkto_bulk_marketo_daily_share",
            "our daily share: quota minus the reserve, or minus others' calls when more",
            labels=labels,
        )
        share.add_metric([self.instance], self.budgets.daily_limit())
        yield share
        yield from self._usage(labels)
        resets = GaugeMetricFamily(
            "mkto_bulk_marketo_daily_reset_timestamp_seconds",
            "when the daily quota next resets (midnight America/Chicago), Unix time",
            labels=labels,
        )
        resets.add_metric([self.instance], next_reset(time.time()))
        yield resets
        counters = self.metrics.snapshot()
        mismatches = CounterMetricFamily(
            "mkto_bulk_counts_mismatch",
            "loads that ended counts_mismatch: rows read, submitted and Marketo's counts disagree",
            labels=labels,
        )
        mismatches.add_metric([self.instance], counters.get(COUNTS_MISMATCH_METRIC, 0))
        yield mismatches
        for name, help_text in _MARKETO_COUNTERS.items():
            counter = CounterMetricFamily(f"mkto_bulk_marketo_{name}", help_text, labels=labels)
            counter.add_metric([self.instance], counters.get(name, 0))
            yield counter
        codes = CounterMetricFamily(
            "mkto_bulk_marketo_error_codes",
            "Marketo error answers by code (1016 too many imports, 606 rate limit, ...)",
            labels=["instance", "code"],
        )
        for name, value in sorted(counters.items()):
            if name.startswith(CODE_PREFIX):
                codes.add_metric([self.instance, name[len(CODE_PREFIX) :]], value)
        yield codes

    def _usage(self, labels: list[str]) -> Iterator[Metric]:
        """Marketo's usage report as last read today (all 0 until beat reads it)."""
        day = marketo_day(time.time()).isoformat()
        reading = usage.load(self.redis, self.instance, day)
        for name, help_text, value in (
            ("daily_calls_used_by_others", "calls other integrations made today (Marketo's "
             "usage report)", reading.others if reading else 0),
            ("daily_calls_reported", "calls Marketo counted today for the whole instance",
             reading.total if reading else 0),
            ("usage_read_timestamp_seconds", "when Marketo's usage report was last read today, "
             "Unix time", reading.read_at if reading else 0),
        ):  # fmt: skip
            gauge = GaugeMetricFamily(f"mkto_bulk_marketo_{name}", help_text, labels=labels)
            gauge.add_metric([self.instance], value)
            yield gauge

    def _ingestion(self) -> Iterator[Metric]:
        """Each import API's line of chunks, and our share of the Data Ingestion API's day."""
        labels = ["instance", "api"]
        in_flight = GaugeMetricFamily(
            "mkto_bulk_lane_chunks_in_flight", "chunks being imported, by import API", labels=labels
        )
        waiting = GaugeMetricFamily(
            "mkto_bulk_lane_chunks_waiting",
            "chunks waiting their turn, by import API",
            labels=labels,
        )
        for api, lane in self.lanes.items():
            snapshot = lane.snapshot()
            in_flight.add_metric([self.instance, api], snapshot.outstanding)
            waiting.add_metric([self.instance, api], snapshot.waiting)
        yield in_flight
        yield waiting
        for name, help_text, value in (
            ("ingestion_daily_objects", "Data Ingestion objects sent today (America/Chicago)",
             self.ingestion_budgets.daily_count()),
            ("ingestion_daily_share", "our share of the Data Ingestion API's daily objects",
             self.ingestion_budgets.limits.daily_objects),
        ):  # fmt: skip
            gauge = GaugeMetricFamily(f"mkto_bulk_{name}", help_text, labels=["instance"])
            gauge.add_metric([self.instance], value)
            yield gauge

    def _push_queues(self) -> Iterator[Metric]:
        """Each push queue: what waits in it, and what its flushes sent and failed."""
        queues = queue_statuses(self.redis, self.instance)
        labels = ["instance", "queue", "object", "api"]
        families: list[tuple[type[GaugeMetricFamily | CounterMetricFamily], str, str, str]] = [
            (GaugeMetricFamily, "depth", "records waiting in the push queue", "depth"),
            (GaugeMetricFamily, "oldest_age_seconds", "age of the queue's oldest waiting record",
             "oldest_age_s"),
            (CounterMetricFamily, "flushes", "batches the queue sent (requests or loads)",
             "flushes"),
            (CounterMetricFamily, "records_sent", "records accepted by Marketo or handed to a load",
             "sent"),
            (CounterMetricFamily, "records_failed",
             "records whose request Marketo refused (in S3 with its code and message)", "failed"),
            (CounterMetricFamily, "records_refused", "records refused when pushed (never queued)",
             "refused"),
            (CounterMetricFamily, "records_repeated",
             "records sent again after a flusher died while sending them", "repeated"),
        ]  # fmt: skip
        for family, name, help_text, attribute in families:
            metric = family(f"mkto_bulk_push_queue_{name}", help_text, labels=labels)
            for queue in queues:
                values = [self.instance, queue.queue, queue.object, queue.api]
                metric.add_metric(values, getattr(queue, attribute))
            yield metric
