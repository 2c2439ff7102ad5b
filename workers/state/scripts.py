"""Lua scripts, kept as ``.lua`` files in a ``lua/`` folder next to the module that runs them.

Each file is read once per process; ``register`` hands back redis-py's
``Script``, which runs it by SHA and loads it again after a Redis restart.
The files are package data (``pyproject.toml``), so the wheel carries them.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import redis
from redis.commands.core import Script


@cache
def source(package: str, *names: str) -> str:
    """The text of ``<package>/lua/<name>.lua`` for each name, one after the other."""
    folder = resources.files(package) / "lua"
    return "\n".join((folder / f"{name}.lua").read_text(encoding="utf-8") for name in names)


def register(client: redis.Redis, package: str, *names: str) -> Script:
    """The files ``<package>/lua/<name>.lua``, run in order as one script on ``client``.

    A prelude (such as the budgets' ``budget_now``) comes first and the script after it.
    """
    return client.register_script(source(package, *names))
