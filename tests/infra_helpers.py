"""Reading the deployment files in infra/ the way their tools do, without Docker or a cluster."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
COMPOSE_FILE = INFRA / "compose.yaml"
ENV_EXAMPLE = INFRA / "env.example"
K8S = INFRA / "k8s"
DOCKERFILE = INFRA / "docker" / "Dockerfile"
IAM_POLICY = INFRA / "iam" / "mkto-bulk-policy.json"

# What every mkto-bulk process needs to reach Redis, Marketo and S3 (workers/settings.py).
REQUIRED_SETTINGS = {
    "REDIS_URL",
    "MARKETO_REST_URL",
    "MARKETO_CLIENT_ID",
    "MARKETO_CLIENT_SECRET",
    "S3_REGION",
    "STAGING_URI",
}


def queues() -> set[str]:
    """The queues the Celery app declares (workers/queues.py: importing the app needs settings)."""
    from workers.queues import OUR_QUEUES

    return set(OUR_QUEUES)


def settings_env_names() -> set[str]:
    """Every environment variable the settings object reads."""
    from workers.settings import Settings

    return {name.upper() for name in Settings.model_fields}


def load_settings_from(env: Mapping[str, str], monkeypatch: Any, *, marketo: bool = True) -> Any:
    """Validate ``env`` as a process does at start (a worker requires Marketo's credentials)."""
    from workers.settings import load_settings

    for name in settings_env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings(require_marketo=marketo)


# --- Compose ------------------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    """A ``${NAME:?message}`` variable was unset: compose refuses the file."""


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable interpolation, applied to every string value of a parsed file."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"], match["arg"] or ""
        present = name in env
        usable = present and (env[name] != "" or not (op or "").startswith(":"))
        if op in ("-", ":-"):
            return env[name] if usable else arg
        if op in ("?", ":?"):
            if not usable:
                raise MissingVariable(f"required variable {name} is missing a value: {arg}")
            return env[name]
        if op in ("+", ":+"):
            return arg if usable else ""
        return env.get(name, "")

    return _VARIABLE.sub(substitute, value)


def compose_raw() -> dict[str, Any]:
    """The compose file as written (YAML anchors and merge keys resolved, no interpolation)."""
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def env_file(path: Path) -> dict[str, str]:
    """A compose ``.env`` file: NAME=value lines, comments and blank lines ignored."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    return env


def compose_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What ``docker compose config`` would see with ``env`` (default: infra/env.example)."""
    return dict(interpolate(compose_raw(), env_file(ENV_EXAMPLE) if env is None else env))


def service_env(service: Mapping[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {str(k): str(v) for k, v in environment.items()}


def argv(command: Any) -> list[str]:
    return [str(part) for part in command] if isinstance(command, list) else str(command).split()


def option(args: list[str], *names: str) -> list[str]:
    """Every value given to one of the options ``names`` (``-Q x`` and ``--queues=x`` forms)."""
    values = []
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                values.append(args[index + 1])
            elif arg.startswith(name + "="):
                values.append(arg.split("=", 1)[1])
    return values


def celery_role(args: list[str]) -> str | None:
    """``worker``, ``beat``, ``flower`` (or another celery subcommand), None if not celery."""
    if not args or args[0] != "celery":
        return None
    for arg in args[1:]:
        if arg in ("worker", "beat", "flower", "inspect"):
            return arg
    return None


# --- Kubernetes ---------------------------------------------------------------------------


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    """Every YAML document under infra/k8s, with the file it came from."""
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((path, dict(document)))
    return found


def k8s_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in k8s_documents() if doc.get("kind") == kind]


def containers(deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"]["containers"])


def deployments_by_role() -> dict[str, list[dict[str, Any]]]:
    roles: dict[str, list[dict[str, Any]]] = {}
    for deployment in k8s_kind("Deployment"):
        role = celery_role(argv(containers(deployment)[0]["command"]))
        roles.setdefault(role or "other", []).append(deployment)
    return roles
