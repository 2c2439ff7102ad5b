"""Helpers shared by the Marketo client tests: a settable clock, client factories, file sources."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from pydantic import SecretStr

from tests.services import Service
from workers.marketo import BudgetLimits, ClientConfig, MarketoClient, RetryPolicy


@dataclass
class FakeClock:
    """Wall-clock seconds that only move when a test says so (``sleep`` advances it)."""

    now: float = 1_780_000_000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


SANDBOX_MUNCHKIN_ID = "123-ABC-456"  # the sandbox's default (GET /_sandbox/config)


def make_config(
    sandbox: Service,
    *,
    secret: str | None = None,
    instance: str = "test-instance",
    limits: BudgetLimits | None = None,
    retry: RetryPolicy | None = None,
    **overrides: Any,
) -> ClientConfig:
    """A client config pointing at the sandbox, with quick backoff so tests stay fast."""
    overrides.setdefault("ingestion_url", sandbox.url)
    overrides.setdefault("munchkin_id", SANDBOX_MUNCHKIN_ID)
    return ClientConfig(
        rest_url=sandbox.url,
        identity_url=sandbox.url + "/identity",
        client_id=sandbox.extra["client_id"],
        client_secret=SecretStr(secret if secret is not None else sandbox.extra["client_secret"]),
        instance=instance,
        limits=limits or BudgetLimits(),
        retry=retry or RetryPolicy(max_retries=6, base_s=0.05, cap_s=0.5),
        **overrides,
    )


def make_client(sandbox: Service, redis_url: str, **kwargs: Any) -> MarketoClient:
    return MarketoClient(make_config(sandbox, **kwargs), redis.Redis.from_url(redis_url))


class GeneratedFile(io.RawIOBase):
    """A read-only stream of ``size`` bytes of CSV produced on the fly (never held whole)."""

    def __init__(self, size: int, header: bytes = b"email,firstName,lastName\n") -> None:
        self.size = size
        self.sent = 0
        self._chunks = self._generate(header)
        self._pending = b""

    def _generate(self, header: bytes) -> Iterator[bytes]:
        yield header
        row = 0
        while True:
            row += 1
            yield f"user{row}@example.com,First{row},Last{row}\n".encode()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self.size - self.sent)
        while len(self._pending) < want:
            self._pending += next(self._chunks)
        data, self._pending = self._pending[:want], self._pending[want:]
        buffer[: len(data)] = data
        self.sent += len(data)
        return len(data)


# -- multi-process workers (spawned: they import this module afresh) -------------------


@dataclass(frozen=True)
class WorkerSpec:
    """What a spawned worker process needs to build its own client (all picklable)."""

    sandbox_url: str
    client_id: str
    client_secret: str
    redis_url: str
    calls: int
    limits: dict[str, float] = field(default_factory=dict)
    instance: str = "test-instance"
    path: str = "/rest/v1/leads/describe.json"


def spec_for(sandbox: Service, redis_url: str, calls: int, **kwargs: Any) -> WorkerSpec:
    return WorkerSpec(
        sandbox.url,
        kwargs.pop("client_id", sandbox.extra["client_id"]),
        kwargs.pop("client_secret", sandbox.extra["client_secret"]),
        redis_url,
        calls,
        **kwargs,
    )


def worker_main(spec: WorkerSpec, start: Any, results: Any) -> None:
    """Build a client, wait for the start signal, make ``spec.calls`` calls, report outcomes."""
    import time

    client = make_client_from_spec(spec)
    start.wait(30)
    outcome: dict[str, Any] = {"ok": 0, "errors": [], "started": time.time()}
    for _ in range(spec.calls):
        try:
            client.request_json("GET", spec.path)
            outcome["ok"] += 1
        except Exception as error:
            outcome["errors"].append(f"{type(error).__name__}: {error}")
    outcome["finished"] = time.time()
    results.put(outcome)


def run_workers(specs: list[WorkerSpec], timeout: float = 60.0) -> list[dict[str, Any]]:
    """Start one spawned process per spec, release them together, collect their outcomes."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    processes = [context.Process(target=worker_main, args=(s, start, results)) for s in specs]
    for process in processes:
        process.start()
    start.set()
    outcomes = [results.get(timeout=timeout) for _ in processes]
    for process in processes:
        process.join(timeout)
    return outcomes


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/self/status")


def upload_memory_main(spec: WorkerSpec, size: int, results: Any, buffered: bool = False) -> None:
    """In a fresh process: upload ``size`` generated bytes; report RSS growth at its peak.

    ``buffered`` reads the file into memory first: the control that shows the
    measurement would catch an upload that is not streamed.
    """
    from workers.marketo import Upload
    from workers.objects.leads import LeadImport

    client = make_client_from_spec(spec)
    small = b"email,firstName\nwarm@example.com,Warm\n"
    client.create_import(LeadImport(), Upload.from_bytes(small))  # load every code path first
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak (VmHWM) to the current RSS
    baseline = _status_kib("VmHWM")
    if buffered:
        upload = Upload.from_bytes(GeneratedFile(size).read(), "big.csv")
    else:
        upload = Upload(lambda: GeneratedFile(size), size, "big.csv")
    job = client.create_import(LeadImport(), upload)
    peak = _status_kib("VmHWM")
    results.put({"growth_bytes": (peak - baseline) * 1024, "batch_id": job.batch_id})


def make_client_from_spec(spec: WorkerSpec) -> MarketoClient:
    config = ClientConfig(
        rest_url=spec.sandbox_url,
        identity_url=spec.sandbox_url + "/identity",
        client_id=spec.client_id,
        client_secret=SecretStr(spec.client_secret),
        instance=spec.instance,
        limits=BudgetLimits(**spec.limits),  # type: ignore[arg-type]
        retry=RetryPolicy(max_retries=8, base_s=0.05, cap_s=0.5),
    )
    return MarketoClient(config, redis.Redis.from_url(spec.redis_url))
