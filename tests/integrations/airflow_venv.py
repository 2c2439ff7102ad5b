"""The Airflow virtualenv of the Airflow tests: built once per pinned requirements, then reused.

``python -m tests.integrations.airflow_venv`` (``make airflow-venv``, which
``make test`` runs) builds it if it is missing and prints its path. It lives
outside the checkout, under ``~/.cache/mkto-bulk/airflow-venv-<hash>`` (or
``$MKTO_BULK_CACHE``), where the hash is of the pinned requirements and the
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

REQUIREMENTS = Path(__file__).with_name("airflow_env") / "requirements.txt"
COMPLETE = ".mkto-bulk-complete"


def cache_root() -> Path:
    return Path(os.environ.get("MKTO_BULK_CACHE", Path.home() / ".cache" / "mkto-bulk"))


def venv_path() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}".encode())
    return cache_root() / f"airflow-venv-{digest.hexdigest()[:16]}"


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
            f"building the Airflow venv failed ({' '.join(argv[:4])} ...: exit "
            f"{done.returncode}); the last lines of {log}:\n" + "\n".join(tail)
        )


def ensure() -> Path:
    """The venv's path, built first if it is not complete."""
    venv = venv_path()
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
        print(f"building the Airflow venv {venv} (log: {log})", file=sys.stderr, flush=True)
        base = getattr(sys, "_base_executable", sys.executable)
        _run([base, "-m", "venv", str(venv)], log)
        pip = [str(python(venv)), "-m", "pip", "--disable-pip-version-check"]
        _run([*pip, "install", "--quiet", "--no-deps", "-r", str(REQUIREMENTS)], log)
        _run([*pip, "check"], log)
        (venv / COMPLETE).write_text(f"{time.monotonic() - began:.0f} s\n")
        print(f"built in {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
    return venv


if __name__ == "__main__":
    print(ensure())
