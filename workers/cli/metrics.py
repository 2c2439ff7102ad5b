"""``mkto-bulk metrics``: the fleet's Prometheus metrics, served or printed once."""

from __future__ import annotations

import threading

import click

DEFAULT_PORT = 9808
INSPECT_TIMEOUT_S = 1.0  # how long a scrape waits for workers to say which queues they consume


@click.command(short_help="Serve (or print) Prometheus metrics read from Redis.")
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="Port to serve.")
@click.option("--address", default="0.0.0.0", show_default=True, help="Address to bind.")
@click.option(
    "--stuck-after",
    type=float,
    default=1800.0,
    show_default=True,
    help="Seconds without progress after which a live load counts as stuck.",
)
@click.option(
    "--inspect-timeout",
    type=float,
    default=INSPECT_TIMEOUT_S,
    show_default=True,
    help="Seconds a scrape waits for workers to say which queues they consume.",
)
@click.option("--once", is_flag=True, help="Print the metrics once and exit (for a textfile).")
def metrics(
    port: int, address: str, stuck_after: float, inspect_timeout: float, once: bool
) -> None:
    """Loads by state, stuck loads, import jobs held, daily quota use and Marketo error codes.

    Also each queue's messages waiting in the broker, and the workers consuming it
    (those answering Celery's inspect). Reads only Redis (REDIS_URL), never Marketo:
    any number of exporters can run. Flower's own /metrics covers tasks and workers.
    """
    import redis
    from prometheus_client import CollectorRegistry, generate_latest, start_http_server

    from workers.broker_metrics import BrokerCollector
    from workers.errors import SettingsError
    from workers.fleet_metrics import FleetCollector
    from workers.redis_clients import redis_client
    from workers.settings import load_settings

    try:
        settings = load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    registry = CollectorRegistry()
    client = redis_client(settings)
    registry.register(FleetCollector(client, settings, stuck_after_s=stuck_after))
    registry.register(
        BrokerCollector(client, settings.redis_url, inspect_timeout_s=inspect_timeout)
    )
    if once:
        try:
            click.echo(generate_latest(registry).decode(), nl=False)
        except redis.RedisError as error:
            raise click.ClickException(f"cannot read Redis (REDIS_URL): {error}") from None
        return
    start_http_server(port, addr=address, registry=registry)
    click.echo(f"serving metrics on http://{address}:{port}/metrics", err=True)
    threading.Event().wait()
