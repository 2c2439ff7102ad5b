"""``python -m infra.sandbox``: start the sandbox and print the URL it listens on."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from infra.sandbox.config import ConfigError, Settings, load_config
from infra.sandbox.server import SandboxApp
from infra.sandbox.state import Credentials, SandboxState

log = logging.getLogger("infra.sandbox")
REALISTIC = {"import_overhead_s": 5.0, "import_rows_per_s": 2000.0}
TICK_SECONDS = 0.05


class QuietHandler(WSGIRequestHandler):
    """Access log without query strings (identity calls carry the client secret there)."""

    access_log = False

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.access_log:
            path = self.path.split("?", 1)[0]
            log.info("%s %s %s", self.command, path, code)


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends ``(default: X)`` only where the help text does not already give a default
    and there is one to show (an unset option's None or a flag's False is not)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return text
        return super()._get_help_string(action)


def build_parser(prog: str = "python -m infra.sandbox") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Local Marketo sandbox: identity, bulk import, Data Ingestion, describe, "
        "limits and faults.",
        formatter_class=DefaultsFormatter,
    )
    add = parser.add_argument
    add("--host", default=_env("SANDBOX_HOST", "127.0.0.1"), help="bind address (SANDBOX_HOST)")
    add(
        "--port",
        type=int,
        default=int(_env("SANDBOX_PORT", "8080")),
        help="port, 0 for a free one (SANDBOX_PORT)",
    )
    add(
        "--client-id",
        default=_env("SANDBOX_CLIENT_ID", "sandbox-client"),
        help="accepted client id (SANDBOX_CLIENT_ID)",
    )
    add(
        "--client-secret",
        default=_env("SANDBOX_CLIENT_SECRET", "sandbox-secret"),
        help="accepted client secret (SANDBOX_CLIENT_SECRET); never logged",
    )
    add(
        "--config",
        type=Path,
        default=_env("SANDBOX_CONFIG", "") or None,
        help="JSON config merged over the shipped default_config.json (SANDBOX_CONFIG)",
    )
    add("--token-ttl", type=float, help="token lifetime in seconds (default 3600)")
    add(
        "--realistic",
        action="store_true",
        help="Marketo-like import speed: 5 s overhead + 2,000 rows/s (default 0.2 s + 100k rows/s)",
    )
    add("--import-overhead", type=float, dest="import_overhead_s", help="fixed seconds per job")
    add(
        "--import-rows-per-s", type=float, dest="import_rows_per_s", help="rows imported per second"
    )
    add("--max-file-bytes", type=int, help="upload limit, HTTP 413 above (default 10000000)")
    add("--rate-limit-calls", type=int, help="calls per rolling window (default 100)")
    add("--rate-limit-window", type=float, help="rolling window seconds (default 20)")
    add("--max-concurrent-calls", type=int, help="calls in flight before 615 (default 10)")
    add("--daily-quota", type=int, help="calls per America/Chicago day before 607 (default 50000)")
    add("--max-importing", type=int, help="import jobs running at once (default 2)")
    add("--max-outstanding", type=int, help="Queued+Importing jobs before 1016 (default 10)")
    add("--separate-queues", action="store_true", help="one import queue per object type")
    add("--munchkin-id", help="Munchkin id of /subscriptions/{id}/... (default 123-ABC-456)")
    add(
        "--ingestion-apply-delay",
        type=float,
        dest="apply_delay_s",
        help="seconds before an accepted Data Ingestion request is applied (default 1)",
    )
    add(
        "--no-ingestion",
        action="store_true",
        help="not entitled to the Data Ingestion API: every call gets 403 4030801",
    )
    add("--seed", type=int, help="seed of the fault RNG (default 1)")
    add("--access-log", action="store_true", help="log one line per request (no query strings)")
    return parser


def settings_from_args(base: Settings, args: argparse.Namespace) -> Settings:
    """Config file first, then --realistic, then explicit flags."""
    patch: dict[str, Any] = dict(REALISTIC) if args.realistic else {}
    for name in ("token_ttl", "import_overhead_s", "import_rows_per_s", "max_file_bytes",
                 "rate_limit_calls", "rate_limit_window", "max_concurrent_calls", "daily_quota",
                 "max_importing", "max_outstanding"):  # fmt: skip
        value = getattr(args, name)
        if value is not None:
            patch[name] = value
    if args.separate_queues:
        patch["shared_queue"] = False
    if args.seed is not None:
        patch["faults"] = {"seed": args.seed}
    ingestion: dict[str, Any] = {}
    if args.munchkin_id is not None:
        ingestion["munchkin_id"] = args.munchkin_id
    if args.apply_delay_s is not None:
        ingestion["apply_delay_s"] = args.apply_delay_s
    if args.no_ingestion:
        ingestion["entitled"] = False
    if ingestion:
        patch["ingestion"] = ingestion
    return base.patched(patch)


def main(argv: list[str] | None = None, prog: str = "python -m infra.sandbox") -> int:
    """Run the sandbox until SIGINT/SIGTERM; ``prog`` names the command in --help and errors."""
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        base, schema = load_config(args.config)
        settings = settings_from_args(base, args)
    except ConfigError as failure:
        print(f"sandbox: {failure}", file=sys.stderr)
        return 2
    state = SandboxState(settings, schema, Credentials(args.client_id, args.client_secret))
    QuietHandler.access_log = args.access_log
    server = make_server(args.host, args.port, SandboxApp(state), threaded=True,
                         request_handler=QuietHandler)  # fmt: skip
    stop = threading.Event()

    def tick() -> None:  # jobs finish on the sandbox clock even when nobody polls
        while not stop.wait(TICK_SECONDS):
            try:
                state.settle()
            except Exception:
                log.exception("settling import jobs failed")

    def terminate(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    threading.Thread(target=tick, name="sandbox-ticker", daemon=True).start()
    host, port = str(server.server_address[0]), int(server.server_address[1])
    log.info("client id %s; import %.3g s + %.6g rows/s; limits %d calls/%gs, %d concurrent, "
             "quota %d/day", args.client_id, settings.import_overhead_s, settings.import_rows_per_s,
             settings.rate_limit_calls, settings.rate_limit_window, settings.max_concurrent_calls,
             settings.daily_quota)  # fmt: skip
    print(f"mkto-bulk sandbox listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        server.server_close()
    log.info("sandbox stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
