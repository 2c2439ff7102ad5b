"""The names only one object type's spec module may spell, and where else they occur.

A name of a type's (its payload name, its fields' payload and attribute names,
its ObjectType member, its spec and import target classes, its module) found
outside its module means some other module knows about that type: the next type
would need an edit there too. The registry names each spec's module and class
once; a URL path segment (``/rest/v1/leads/describe.json``) is Marketo's
endpoint, shared by types (lead fields are in program member files too).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from workers.load_request import parse_load_request
from workers.objects import ObjectSpec
from workers.targets import import_target

SCANNED = (".py", ".lua", ".c", ".h")
REGISTRY_MODULE = Path("workers/objects/__init__.py")


def own_names(spec: ObjectSpec[Any]) -> set[str]:
    request = parse_load_request(
        {"source": "s3://etl-in/names.csv", "object": spec.name, **spec.example.payload}
    )
    return {
        spec.name,
        spec.member,
        type(spec).__name__,
        type(import_target(request)).__name__,
        type(spec).__module__.rsplit(".", 1)[1],
        *(field.alias for field in spec.fields),
        *(field.attr for field in spec.fields),
    }


def home(spec: ObjectSpec[Any]) -> Path:
    return Path(*type(spec).__module__.split(".")).with_suffix(".py")


def elsewhere(root: Path, spec: ObjectSpec[Any], names: set[str] | None = None) -> list[str]:
    """``path:line: text`` for each line under ``root/workers`` naming the type outside its home.

    The registry may name the spec's module and class: that is its registry entry.
    """
    names = names or own_names(spec)
    registry_names = {type(spec).__name__, type(spec).__module__.rsplit(".", 1)[1]}
    pattern = re.compile(
        r"(?<![\w/])(" + "|".join(re.escape(name) for name in sorted(names)) + r")(?![\w/])"
    )
    found = []
    for path in sorted((root / "workers").rglob("*")):
        relative = path.relative_to(root)
        if path.suffix not in SCANNED or relative == home(spec):
            continue
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            hits = set(pattern.findall(line))
            if relative == REGISTRY_MODULE:
                hits -= registry_names
            if hits:
                found.append(f"{relative}:{number}: {line.strip()}")
    return found
