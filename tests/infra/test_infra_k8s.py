"""infra/k8s: valid Kubernetes objects, a Deployment per queue, and config kept apart from secrets.

Built-in kinds are validated offline against Kubernetes' own OpenAPI schemas
(kubernetes-validate, strict: unknown fields fail); KEDA's kinds, which need its CRDs, are
checked for the fields the autoscaling relies on. The liveness probe is run for real against
a worker started with the manifest's own command.
"""

from __future__ import annotations

import os
import posixpath
import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.infra_helpers import (
    DOCKERFILE,
    K8S,
    REQUIRED_SETTINGS,
    ROOT,
    argv,
    celery_role,
    containers,
    deployments_by_role,
    k8s_documents,
    k8s_kind,
    load_settings_from,
    option,
    queues,
    settings_env_names,
)
from tests.services import wait_for

KUBERNETES_VERSION = "1.30"
CRD_KINDS = {"ScaledObject", "TriggerAuthentication"}
NOT_APPLIED = {"secret.example.yaml", "keda-autoscaling.yaml"}
# Environment read by something other than workers/settings.py.
EXTRA_CONFIG = {"SCHEDULE_FILE"}  # beat's nightly loads
EXTRA_SECRETS = {"REDIS_ADDRESS", "REDIS_PASSWORD"}  # KEDA's Redis trigger
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|AUTH|CREDENTIAL", re.IGNORECASE)


def workers() -> list[dict[str, Any]]:
    return deployments_by_role()["worker"]


def queue_of(deployment: dict[str, Any]) -> str:
    (queue,) = option(argv(containers(deployment)[0]["command"]), "-Q", "--queues")
    return queue


def config_data() -> dict[str, str]:
    (config,) = [c for c in k8s_kind("ConfigMap") if c["metadata"]["name"] == "mkto-bulk-config"]
    return dict(config["data"])


def secret_data(name: str) -> dict[str, str]:
    (secret,) = [s for s in k8s_kind("Secret") if s["metadata"]["name"] == name]
    return dict(secret["stringData"])


def test_every_builtin_object_is_valid_for_kubernetes_strictly() -> None:
    problems = []
    for path, document in k8s_documents():
        if document["kind"] in CRD_KINDS or document["apiVersion"].startswith("kustomize."):
            continue
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{path.name} {document['kind']}: {error.message}")
    assert problems == []


def test_the_kustomization_applies_every_manifest_but_the_secret_example_and_keda() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - NOT_APPLIED
    assert kustomization["namespace"] == "mkto-bulk"


def test_a_deployment_per_queue_each_consuming_exactly_its_queue() -> None:
    consumed = [queue_of(deployment) for deployment in workers()]
    assert all("," not in queue for queue in consumed)
    assert sorted(consumed) == sorted(queues())
    for deployment in workers():
        queue = queue_of(deployment)
        assert option(argv(containers(deployment)[0]["command"]), "-n") == [f"{queue}@%h"]


def test_beat_runs_redbeat_with_a_standby_and_mounts_the_schedule_file() -> None:
    (beat,) = deployments_by_role()["beat"]
    container = containers(beat)[0]
    assert option(argv(container["command"]), "-S", "--scheduler") == ["redbeat.RedBeatScheduler"]
    assert beat["spec"]["replicas"] == 2
    schedule_file = config_data()["SCHEDULE_FILE"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "schedule"]
    assert mount["mountPath"] == posixpath.dirname(schedule_file) and mount["readOnly"]
    (volume,) = [v for v in beat["spec"]["template"]["spec"]["volumes"] if v["name"] == "schedule"]
    (schedule,) = [
        c for c in k8s_kind("ConfigMap") if c["metadata"]["name"] == volume["configMap"]["name"]
    ]
    tomllib.loads(schedule["data"][posixpath.basename(schedule_file)])


def test_flower_takes_its_basic_auth_from_a_secret_and_is_probed_on_its_healthcheck() -> None:
    (flower,) = deployments_by_role()["flower"]
    container = containers(flower)[0]
    assert not any(arg.startswith("--basic-auth") for arg in argv(container["command"]))
    (auth,) = [e for e in container["env"] if e["name"] == "FLOWER_BASIC_AUTH"]
    reference = auth["valueFrom"]["secretKeyRef"]
    assert reference["key"] in secret_data(reference["name"])
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthcheck"
    (service,) = [s for s in k8s_kind("Service") if s["metadata"]["name"] == "mkto-bulk-flower"]
    assert service["spec"]["type"] == "ClusterIP"


def test_every_container_requests_cpu_and_memory_and_caps_memory() -> None:
    for deployment in k8s_kind("Deployment"):
        for container in containers(deployment):
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), deployment["metadata"]
            assert "memory" in resources["limits"], deployment["metadata"]["name"]


def test_every_pod_runs_as_the_images_non_root_user_on_a_read_only_root() -> None:
    (uid,) = re.findall(r"^USER\s+(\d+)", DOCKERFILE.read_text(), re.MULTILINE)
    for deployment in k8s_kind("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(uid)
        assert pod["serviceAccountName"] == "mkto-bulk"
        for container in containers(deployment):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}


def test_every_worker_is_probed_by_pinging_its_own_node_name() -> None:
    for deployment in workers():
        probe = containers(deployment)[0]["livenessProbe"]
        command = " ".join(probe["exec"]["command"])
        assert f"inspect ping -d {queue_of(deployment)}@$HOSTNAME" in command
        assert probe["timeoutSeconds"] > int(option(command.split(), "-t")[0])


def test_configmaps_hold_no_credentials_and_every_key_is_a_setting_something_reads() -> None:
    known = settings_env_names() | EXTRA_CONFIG
    for config in k8s_kind("ConfigMap"):
        for key, value in config["data"].items():
            assert not SECRET_NAME.search(key), f"{key} belongs in a Secret"
            assert not re.search(r"://[^/@\s]*:[^/@\s]*@", value), f"{key} embeds a password"
    assert set(config_data()) <= known, set(config_data()) - known


def test_the_example_secrets_hold_only_placeholders() -> None:
    secrets = k8s_kind("Secret")
    assert secrets, "secret.example.yaml shows the Secrets to create"
    for secret in secrets:
        assert "data" not in secret, "base64 data hides what is committed"
        for key, value in secret["stringData"].items():
            # A credential is a placeholder; an address names the reserved example domain.
            placeholder = "REPLACE_ME" in value or ".example.internal:" in value
            assert placeholder, f"{secret['metadata']['name']}/{key}"
    assert set(secret_data("mkto-bulk-secrets")) <= settings_env_names() | EXTRA_SECRETS


def container_env(container: dict[str, Any]) -> dict[str, str]:
    """The environment a container starts with, placeholders standing in for secret values."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            assert source["configMapRef"]["name"] == "mkto-bulk-config"
            env.update(config_data())
        else:
            env.update(secret_data(source["secretRef"]["name"]))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        else:
            reference = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secret_data(reference["name"])[reference["key"]]
    return env


def test_config_and_secrets_together_give_celery_settings_it_accepts(monkeypatch: Any) -> None:
    for deployment in k8s_kind("Deployment"):
        for container in containers(deployment):
            if celery_role(argv(container["command"])) is None:
                continue
            env = container_env(container)
            assert env.keys() >= REQUIRED_SETTINGS, deployment["metadata"]["name"]
            assert "AWS_SECRET_ACCESS_KEY" not in env, "AWS access comes from the IAM role"
            load_settings_from(env, monkeypatch)


def test_the_metrics_exporter_reads_redis_without_the_marketo_secret_and_is_scraped(
    monkeypatch: Any,
) -> None:
    (deployment,) = [d for d in k8s_kind("Deployment") if "metrics" in d["metadata"]["name"]]
    (container,) = containers(deployment)
    command = argv(container["command"])
    assert command[:2] == ["mkto-bulk", "metrics"]
    env = container_env(container)
    assert "REDIS_URL" in env and "MARKETO_CLIENT_SECRET" not in env
    load_settings_from(env, monkeypatch, marketo=False)
    (port,) = container["ports"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert (
        option(command, "--port")
        == [str(port["containerPort"])]
        == [annotations["prometheus.io/port"]]
    )


def test_queue_length_scales_the_split_and_marketo_workers_through_keda() -> None:
    deployments = {d["metadata"]["name"]: d for d in workers()}
    (auth,) = k8s_kind("TriggerAuthentication")
    secret_keys = set(secret_data("mkto-bulk-secrets"))
    assert {ref["key"] for ref in auth["spec"]["secretTargetRef"]} <= secret_keys
    scaled_queues = set()
    for scaled in k8s_kind("ScaledObject"):
        spec = scaled["spec"]
        target = deployments[spec["scaleTargetRef"]["name"]]
        assert 1 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "redis"
        assert trigger["metadata"]["listName"] == queue_of(target)
        assert int(trigger["metadata"]["listLength"]) >= 1
        assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
        scaled_queues.add(queue_of(target))
    assert scaled_queues == {"mkto_split", "mkto_marketo"}


@pytest.mark.slow
def test_the_worker_liveness_probe_passes_while_the_worker_runs_and_fails_once_it_stops(
    redis_url: str, tmp_path: Path
) -> None:
    (deployment,) = [d for d in workers() if queue_of(d) == "mkto_split"]
    container = containers(deployment)[0]
    command = argv(container["command"])
    probe = list(container["livenessProbe"]["exec"]["command"])
    assert celery_role(command) == "worker"
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "HOSTNAME": socket.gethostname(),  # what Kubernetes sets: the pod's host name
        "REDIS_URL": redis_url,
        "MARKETO_CLIENT_SECRET": "probe-test",
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )

    def probe_passes() -> bool:
        result = subprocess.run(probe, env=env, cwd=ROOT, capture_output=True, timeout=60)
        return result.returncode == 0

    try:
        wait_for(probe_passes, timeout=60, interval=0.5, what="the liveness probe to pass")
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)
        log.close()
    assert not probe_passes()
