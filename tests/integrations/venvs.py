"""The schedulers' virtualenvs of the integration tests: built once per pinned list, then reused.

``python -m tests.integrations.venvs NAME`` (``NAME`` is ``airflow`` or
``dagster``; ``make integration-venvs``, which ``make test`` runs) builds one if
it is missing and prints its path. It lives outside the checkout, under
``~/.cache/mkto-bulk/NAME-venv-<hash>`` (or ``$MKTO_BULK_CACHE``), where the
hash is of the pinned requirements (``NAME_env/requirements.txt``) and the
Python version, so a fresh clone reuses it and a new pin builds a new one.
mkto-bulk is not installed into it: the tests run the checkout on ``PYTHONPATH``,
so a cached venv never runs stale code. A lock file lets two runs at once build
it once; an interrupted build is started again from scratch.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

NAMES = ("airflow", "dagster")
COMPLETE = ".mkto-bulk-complete"


def requirements(name: str) -> Path:
    return Path(__file__).with_name(f"{name}_env") / "requirements.txt"


def cache_root() -> Path:
    return Path(os.environ.get("MKTO_BULK_CACHE", Path.home() / ".cache" / "mkto-bulk"))


def pins(name: str) -> list[str]:
    """The pinned requirements, without comments (editing a comment keeps the venv)."""
    lines = requirements(name).read_text().splitlines()
    return [kept for line in lines if (kept := line.split("#", 1)[0].strip())]


def venv_path(name: str) -> Path:
    digest = hashlib.sha256("\n".join(pins(name)).encode())
    digest.update(f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}".encode())
    return cache_root() / f"{name}-venv-{digest.hexdigest()[:16]}"


def python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _run(argv: list[str], log: Path) -> None:
    with log.open("ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        raise RuntimeError(
            f"building a scheduler's venv failed ({' '.join(argv[:4])} ...: exit "
            f"{done.returncode}); the last lines of {log}:\n" + "\n".join(tail)
        )


def ensure(name: str) -> Path:
    """The venv's path, built first if it is not complete."""
    venv = venv_path(name)
    if (venv / COMPLETE).exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{venv}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second build waits here, then finds it complete
        if (venv / COMPLETE).exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        log = Path(f"{venv}.log")
        log.unlink(missing_ok=True)
        began = time.monotonic()
        print(f"building the {name} venv {venv} (log: {log})", file=sys.stderr, flush=True)
        base = getattr(sys, "_base_executable", sys.executable)
        _run([base, "-m", "venv", str(venv)], log)
        pip = [str(python(venv)), "-m", "pip", "--disable-pip-version-check"]
        _run([*pip, "install", "--quiet", "--no-deps", "-r", str(requirements(name))], log)
        _run([*pip, "check"], log)
        (venv / COMPLETE).write_text(f"{time.monotonic() - began:.0f} s\n")
        print(f"built in {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
    return venv


if __name__ == "__main__":
    (wanted,) = sys.argv[1:] or ["airflow"]
    if wanted not in NAMES:
        sys.exit(f"usage: python -m tests.integrations.venvs {{{'|'.join(NAMES)}}}")
    print(ensure(wanted))
