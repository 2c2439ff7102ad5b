"""Beat takeover: how long a standby beat takes to send after the active one is SIGKILLed.

Starts two ``celery -A workers beat`` processes on a private Redis with the
default lock settings (BEAT_LOCK_TIMEOUT_S unless set), kills the one holding
the lock and times the standby's first send. The promise is under 60 s.

    .venv/bin/python bench/beat_takeover.py --rounds 3
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pipeline_helpers import Pipeline  # noqa: E402
from tests.services import start_redis, wait_for  # noqa: E402

SENDING = "Sending due task load:takeover"
SCHEDULE = (
    '[[load]]\nname = "takeover"\ncron = "0 2 * * *"\n'
    'source = "s3://bench/{ds}/"\nobject = "leads"\n'
)


def one_round(pipeline: Pipeline, schedule: Path, label: str) -> float:
    def log(name: str) -> str:
        path = pipeline.logdir / f"worker-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    active = pipeline.start_beat(f"{label}-a", SCHEDULE_FILE=str(schedule))
    wait_for(lambda: SENDING in log(f"{label}-a"), timeout=120, what="the first beat to send")
    standby = pipeline.start_beat(f"{label}-b", SCHEDULE_FILE=str(schedule))
    wait_for(lambda: "beat: Starting" in log(f"{label}-b"), timeout=60, what="the standby")
    os.killpg(active.pid, signal.SIGKILL)
    active.wait(10)
    killed = time.monotonic()
    wait_for(lambda: SENDING in log(f"{label}-b"), timeout=120, interval=0.1, what="takeover")
    took = time.monotonic() - killed
    os.killpg(standby.pid, signal.SIGKILL)
    standby.wait(10)
    # The killed standby's lock must run out before the next round.
    wait_for(lambda: not pipeline.redis.keys("mkto:redbeat:*lock"), timeout=60, what="the lock")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mkto-bulk-takeover-"))
    redis = start_redis(workdir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETO_", "REDIS_"))}
    env.update(REDIS_URL=redis.url, MARKETO_CLIENT_SECRET="bench", PYTHONUNBUFFERED="1",
               SCHEDULE_TICK_S="1")  # fmt: skip
    schedule = workdir / "schedule.toml"
    schedule.write_text(SCHEDULE)
    pipeline = Pipeline(env, redis.url, "bench", workdir)
    times = []
    try:
        for number in range(args.rounds):
            times.append(one_round(pipeline, schedule, f"round{number}"))
            print(f"round {number + 1}: standby sent {times[-1]:.1f} s after the kill", flush=True)
    finally:
        pipeline.stop()
        redis.stop()
    print(f"takeover: max {max(times):.1f} s over {len(times)} rounds (promise: under 60 s)")


if __name__ == "__main__":
    main()
