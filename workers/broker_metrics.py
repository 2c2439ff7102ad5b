"""The broker's side of the fleet for ``mkto-bulk metrics``: messages waiting, workers consuming.

With the Redis broker, a kombu queue is a Redis list named after the queue, plus
one list per priority step above 0 (``<queue>\\x06\\x163``, ``...6``, ``...9``;
kombu's default steps, which our app keeps): together they hold the messages no
worker has taken yet. A message a worker holds (prefetched, or waiting out its
countdown) sits in kombu's ``unacked`` hash instead, so a queue's length is work
that no worker has room for.

Workers per queue come from Celery's ``inspect active_queues`` broadcast: every
worker's main process answers with the queues it consumes. A worker that does not
answer within the timeout (gone, or its main process blocked) is not counted, so
each scrape takes that long.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence

import redis
from celery import Celery
from kombu.transport.redis import PRIORITY_STEPS, Channel
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from workers.queues import OUR_QUEUES

logger = logging.getLogger(__name__)


def queue_lists(queue: str) -> list[str]:
    """The Redis lists that hold ``queue``'s waiting messages, one per priority step."""
    return [queue] + [f"{queue}{Channel.sep}{step}" for step in PRIORITY_STEPS if step]


class BrokerCollector(Collector):
    """Reads our queues' lengths from the broker's Redis and asks the workers what they consume."""

    def __init__(
        self,
        client: redis.Redis,
        broker_url: str,
        inspect_timeout_s: float,
        queues: Sequence[str] = OUR_QUEUES,
    ) -> None:
        self.redis = client
        self.broker_url = broker_url
        self.inspect_timeout_s = inspect_timeout_s
        self.queues = tuple(queues)
        self._app: Celery | None = None

    def collect(self) -> Iterator[Metric]:
        lengths = GaugeMetricFamily(
            "mkto_bulk_broker_queue_length",
            "messages waiting in the broker for a worker (no worker has taken them yet), by queue",
            labels=["queue"],
        )
        for queue, length in self.queue_lengths().items():
            lengths.add_metric([queue], length)
        yield lengths
        workers = GaugeMetricFamily(
            "mkto_bulk_queue_workers",
            f"workers consuming the queue that answered an inspect within "
            f"{self.inspect_timeout_s:g} s",
            labels=["queue"],
        )
        consuming = self.queue_workers()
        for queue in self.queues:
            workers.add_metric([queue], consuming.get(queue, 0))
        yield workers

    def queue_lengths(self) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        for queue in self.queues:
            for name in queue_lists(queue):
                pipe.llen(name)
        sizes = iter(pipe.execute())
        return {queue: sum(int(next(sizes)) for _ in queue_lists(queue)) for queue in self.queues}

    def queue_workers(self) -> Counter[str]:
        """How many workers answered that they consume each queue."""
        inspect = self._celery().control.inspect(timeout=self.inspect_timeout_s)
        replies = inspect.active_queues() or {}
        counts: Counter[str] = Counter()
        for queues in replies.values():
            counts.update({str(queue.get("name")) for queue in queues or []})
        logger.debug("inspect: %d workers answered", len(replies))
        return counts

    def _celery(self) -> Celery:
        """A bare app on the broker, made once: only its control channel is used."""
        if self._app is None:
            self._app = Celery("mkto_bulk_metrics", broker=self.broker_url, set_as_current=False)
        return self._app
