"""Sandbox admin API: config, reset, clock, records, stats keys, jobs."""

from __future__ import annotations

from tests.sandbox_helpers import Caller, admin, admin_raw, configure, stats
from tests.services import Service

STATS_KEYS = {
    "calls", "calls_by_endpoint", "calls_by_code", "too_many_imports_sent",
    "max_outstanding_jobs", "max_importing_jobs", "max_calls_in_window", "max_concurrent_calls",
    "tokens_issued", "daily_calls", "records", "jobs",
}  # fmt: skip
CONFIG_KEYS = {
    "token_ttl", "rate_limit_calls", "rate_limit_window", "max_concurrent_calls", "daily_quota",
    "max_importing", "max_outstanding", "shared_queue", "import_overhead_s",
    "import_rows_per_s", "max_file_bytes", "faults",
}  # fmt: skip


def test_stats_keys_on_a_fresh_sandbox(sandbox: Service) -> None:
    counters = stats(sandbox)
    assert set(counters) >= STATS_KEYS
    assert counters["calls"] == 0
    assert counters["records"] == {"leads": 0, "car_c": 0, "order_line_c": 0, "program_members": 0}
    assert counters["jobs"] == {"Queued": 0, "Importing": 0, "Complete": 0, "Failed": 0}


def test_config_get_patch_and_validation(sandbox: Service) -> None:
    config = admin(sandbox, "GET", "/_sandbox/config")
    assert set(config) >= CONFIG_KEYS
    assert set(config["faults"]) == {
        "606", "615", "604", "5xx", "slow", "slow_seconds", "drop", "job_failed", "seed",
    }  # fmt: skip
    assert (config["max_importing"], config["max_outstanding"], config["shared_queue"]) == (
        2, 10, True,
    )  # fmt: skip
    patched = configure(sandbox, daily_quota=7, faults={"606": 0.5})
    assert patched["daily_quota"] == 7
    assert patched["faults"]["606"] == 0.5
    assert patched["faults"]["seed"] == config["faults"]["seed"]  # partial merge
    bad_patches = [
        {"nope": 1},
        {"faults": {"606": 2}},
        {"rate_limit_calls": "x"},
        {"shared_queue": 1},
        {"faults": {"bogus": 0.1}},
        {"max_importing": 11},
    ]
    for bad in bad_patches:
        response = admin_raw(sandbox, "PATCH", "/_sandbox/config", bad)
        assert response.status_code == 400, bad
        assert response.json()["error"]
    assert admin(sandbox, "GET", "/_sandbox/config")["daily_quota"] == 7  # unchanged by failures


def test_reset_restores_startup_config_and_clears_state(sandbox: Service) -> None:
    original = admin(sandbox, "GET", "/_sandbox/config")
    caller = Caller(sandbox)
    caller.wait_done(
        "/bulk/v1/leads/batch/{}.json".format(
            caller.submit("/bulk/v1/leads.json", "email\na@example.com\n", format="csv")
        )
    )
    configure(sandbox, daily_quota=1)
    admin(sandbox, "POST", "/_sandbox/faults", {"fault": "606", "count": 5})
    admin(sandbox, "POST", "/_sandbox/clock", {"advance": 1000})
    assert admin(sandbox, "POST", "/_sandbox/reset", {}) == {"ok": True}
    assert admin(sandbox, "GET", "/_sandbox/config") == original
    counters = stats(sandbox)
    assert counters["calls"] == 0
    assert counters["tokens_issued"] == 0
    assert counters["records"]["leads"] == 0
    assert sum(counters["jobs"].values()) == 0
    assert admin(sandbox, "GET", "/_sandbox/faults")["queued"] == []
    assert abs(admin(sandbox, "GET", "/_sandbox/clock")["offset"]) < 1
    assert caller.get("/rest/v1/leads/describe.json").json()["errors"][0]["code"] == "601"


def test_clock(sandbox: Service) -> None:
    before = admin(sandbox, "GET", "/_sandbox/clock")
    after = admin(sandbox, "POST", "/_sandbox/clock", {"advance": 3600})
    assert 3600 <= after["now"] - before["now"] < 3605
    at = admin(sandbox, "POST", "/_sandbox/clock", {"set": "2030-01-01T00:00:00Z"})
    assert at["iso"].startswith("2030-01-01T00:00:0")
    assert admin_raw(sandbox, "POST", "/_sandbox/clock", {"advance": -1}).status_code == 400
    assert admin_raw(sandbox, "POST", "/_sandbox/clock", {"set": "2030-01-01"}).status_code == 400


def test_records_and_jobs(sandbox: Service) -> None:
    caller = Caller(sandbox)
    batch = caller.submit("/bulk/v1/customobjects/car_c/import.json",
                          "vin,color\nV1,red\nV2,blue\nV3,red\n", format="csv")  # fmt: skip
    caller.wait_done(f"/bulk/v1/customobjects/car_c/import/{batch}/status.json")
    assert admin(sandbox, "GET", "/_sandbox/records/car_c") == {"count": 3}
    red = admin(sandbox, "GET", "/_sandbox/records/car_c?color=red")
    assert red["count"] == 2
    assert {r["vin"] for r in red["records"]} == {"V1", "V3"}
    assert admin(sandbox, "GET", "/_sandbox/records/car_c?color=green") == {
        "count": 0,
        "records": [],
    }
    assert admin_raw(sandbox, "GET", "/_sandbox/records/boat_c").status_code == 404
    [job] = admin(sandbox, "GET", "/_sandbox/jobs")
    assert {"batchId", "object", "status", "rows", "failed", "warnings", "queued_at",
            "started_at", "finished_at"} <= set(job)  # fmt: skip
    assert (job["batchId"], job["object"], job["status"], job["rows"]) == (
        batch, "car_c", "Complete", 3,
    )  # fmt: skip
    assert job["queued_at"] <= job["started_at"] < job["finished_at"]
    assert admin_raw(sandbox, "GET", "/_sandbox/nothing").status_code == 404


def test_admin_calls_are_not_marketo_calls(sandbox: Service) -> None:
    for _ in range(5):
        stats(sandbox)
        admin(sandbox, "GET", "/_sandbox/jobs")
    assert stats(sandbox)["calls"] == 0
