"""infra/monitoring: alert rules that promtool accepts and whose unit tests pass, a runbook section
for every alert, a Grafana dashboard that imports anywhere, and rules and dashboard that use only
metrics a real `mkto-bulk metrics` and a real Flower serve.

promtool comes with Debian's prometheus package: `make promtool` (and so `make test`) installs it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import yaml
from celery import Celery
from markdown.extensions.toc import slugify

from tests.metrics_helpers import (
    CLIENT_SECRET,
    INSTANCE,
    ROOT,
    exporter,
    flower,
    metrics_env,
    running,
    samples,
    served_names,
    worker_argv,
)
from tests.services import wait_for
from workers.marketo.metrics import Metrics
from workers.state.ledger import Ledger, LoadState

MONITORING = ROOT / "infra" / "monitoring"
RULES = MONITORING / "alerts.yaml"
RULE_TESTS = MONITORING / "alerts_test.yaml"
DASHBOARD = MONITORING / "dashboard.json"
RUNBOOK = ROOT / "docs" / "operators" / "runbook.md"
RUNBOOK_PREFIX = "docs/operators/runbook.md#"
# Our metrics and Flower's; a selector's equality matchers ({type="task-failed"}).
METRIC = re.compile(r"\b((?:mkto_bulk|flower)_[A-Za-z0-9_]+)\b(?:\s*\{([^}]*)\})?")
EQUALS = re.compile(r'(\w+)\s*(=~|!=|!~|=)\s*"([^"]*)"')
GRAFANA_VARIABLES = {"$__rate_interval": "5m"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SECRET_KEYS = {"password", "basicauth", "basicauthpassword", "securejsondata", "apikey", "token",
               "secret", "authorization", "bearer"}  # fmt: skip


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is missing: `make promtool` installs it (Debian's prometheus package)"
        )
    return subprocess.run(
        [path, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def panels() -> Iterator[dict[str, Any]]:
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel's target, Grafana's variables given a value."""
    queries = []
    for panel in panels():
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            queries.append((f"panel {panel['title']!r} {target['refId']}", expr))
    return queries


def rule_queries() -> list[tuple[str, str]]:
    return [(rule["alert"], str(rule["expr"])) for rule in alerts()]


def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    checked = promtool("check", "rules", RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in checked.stdout
    tested = promtool("test", "rules", RULE_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_the_unit_tests_catch_a_rule_that_no_longer_fires(tmp_path: Path) -> None:
    broken = RULES.read_text()
    mutations = [
        ("quiet_seconds_max > 1800", "quiet_seconds_max > 3600"),
        ("mkto_bulk_queue_workers == 0", "mkto_bulk_queue_workers < 0"),
    ]
    for right, wrong in mutations:
        assert right in broken
        broken = broken.replace(right, wrong)
    (tmp_path / RULES.name).write_text(broken)
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    tested = promtool("test", "rules", tmp_path / RULE_TESTS.name)
    assert tested.returncode != 0
    failed = set(re.findall(r"alertname: (\w+)", tested.stdout + tested.stderr))
    assert failed == {"MktoBulkLoadStuck", "MktoBulkQueueHasNoWorker"}


def test_every_alert_is_unit_tested_firing_and_staying_silent() -> None:
    fires: set[str] = set()
    silent: set[str] = set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert len(names) == len(alerts()), "alert names are unique"
    assert names - fires == set(), "alerts no test makes fire"
    assert names - silent == set(), "alerts no test shows silent"
    assert (fires | silent) - names == set(), "tests of alerts that do not exist"


def test_every_alert_says_what_happened_and_links_its_runbook_section() -> None:
    headings = [line[3:].strip() for line in RUNBOOK.read_text().splitlines() if line[:3] == "## "]
    anchors = {slugify(heading, "-") for heading in headings}
    for rule in alerts():
        annotations = rule["annotations"]
        assert annotations["summary"].strip() and annotations["description"].strip(), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        link = annotations["runbook_url"]
        assert link.startswith(RUNBOOK_PREFIX), (rule["alert"], link)
        assert link.removeprefix(RUNBOOK_PREFIX) in anchors, (rule["alert"], link, anchors)


def test_the_dashboard_takes_its_datasource_from_a_variable_and_holds_no_secret() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert (variable["name"], variable["query"]) == ("datasource", "prometheus")
    ids = []
    for panel in panels():
        ids.append(panel["id"])
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    assert len(ids) == len(set(ids)), "panel ids are unique"

    def walk(node: Any, where: str) -> Iterator[tuple[str, str, Any]]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield where, key, value
                yield from walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, f"{where}[{index}]")

    for where, key, value in walk(dashboard, "dashboard"):
        assert key.lower() not in SECRET_KEYS, f"{where}.{key}"
        if isinstance(value, str):
            assert not re.search(r"://[^/\s]*@|bearer\s|basic\s", value, re.I), f"{where}.{key}"


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 20
    record = [{"record": f"dashboard:query_{index}", "expr": expr}
              for index, (_, expr) in enumerate(queries)]  # fmt: skip
    rules = tmp_path / "dashboard_rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": record}]}))
    checked = promtool("check", "rules", rules)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _fleet(client: redis.Redis) -> None:
    """A failed load and a 1016, so the selectors on label values have samples to match."""
    Ledger(client).create_load("failed-load", {"source": "s3://b/k.csv"})
    Ledger(client).update_load(
        "failed-load", [LoadState.PENDING], LoadState.FAILED, {"finished_at": time.time()}
    )
    Metrics(client, INSTANCE).code("1016")


def test_rules_and_dashboard_use_only_metrics_a_real_exporter_and_flower_serve(
    redis_url: str, tmp_path: Path
) -> None:
    env = metrics_env(redis_url)
    _fleet(redis.Redis.from_url(redis_url))
    worker_log = tmp_path / "worker.log"
    # The worker boots while Flower does; Flower seeing it online is the wait for both.
    with (
        running(worker_argv("entry", "celery"), env, worker_log),
        flower(env, tmp_path) as flower_url,
    ):
        # Flower has series for a worker and a failed task once it has seen their events: it
        # must have seen the worker (its receiver listens) before the task runs.
        def flower_shows(fragment: str) -> bool:
            return fragment in requests.get(flower_url + "/metrics", timeout=10).text

        seen = f"flower to see the worker (its log: {worker_log})"
        wait_for(lambda: flower_shows('flower_worker_online{worker="entry@'), 90, 0.2, seen)
        Celery(broker=redis_url, set_as_current=False).send_task("mkto_bulk.start_load")
        wait_for(lambda: flower_shows('type="task-failed"'), 60, 0.2, "flower to see it fail")
        answer = requests.get(flower_url + "/metrics", timeout=10)  # as Prometheus: no auth
        assert answer.status_code == 200
        flower_text = answer.text
        with exporter(env, tmp_path) as url:
            ours_text = requests.get(url, timeout=30).text
    assert CLIENT_SECRET not in ours_text + flower_text

    served = {"mkto_bulk": served_names(ours_text), "flower": served_names(flower_text)}
    values = {**samples(ours_text), **samples(flower_text)}
    problems = []
    for where, expr in rule_queries() + dashboard_queries():
        used = METRIC.findall(expr)
        assert used, f"{where}: names no mkto_bulk_ or flower_ metric: {expr}"
        for name, selector in used:
            if name not in served["flower" if name.startswith("flower_") else "mkto_bulk"]:
                problems.append(f"{where}: {name} is not served")
                continue
            for label, op, value in EQUALS.findall(selector):
                if op == "=" and not any(
                    metric == name and (label, value) in labels for metric, labels in values
                ):
                    problems.append(f'{where}: no {name} sample has {label}="{value}"')
    assert problems == []


def test_the_documented_prometheus_rule_carries_the_rules_file_as_its_spec() -> None:
    page = (ROOT / "docs" / "operators" / "monitoring.md").read_text()
    (script,) = [block for block in re.findall(r"```sh\n(.*?)```", page, re.S)
                 if "PrometheusRule" in block]  # fmt: skip
    assert script.rstrip().endswith("| kubectl apply -f -")
    printed = subprocess.run(
        ["bash", "-c", script.rstrip().removesuffix("kubectl apply -f -") + "cat"],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    rule = yaml.safe_load(printed.stdout)
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
