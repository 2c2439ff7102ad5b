"""The names only one object type's spec module may spell, and where else they occur.

A name of a type's (its payload name, its fields' payload and attribute names,
its ObjectType member, its spec and import target classes, its module) found
outside its module means some other module knows about that type: the next type
would need an edit there too. The registry names each spec's module and class
once; a URL path segment (``/rest/v1/leads/describe.json``) is Marketo's
endpoint, shared by types (lead fields are in program member files too).

A payload field that several types declare (the same alias and attribute, e.g.
``listId``) is no one type's name. A field's payload name is text: in Python
code it is looked for in strings and comments, so an alias that is also an
ordinary word (``action``) may still name a local variable elsewhere.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path
from typing import Any

from workers.load_request import parse_load_request
from workers.objects import SPECS, ObjectSpec
from workers.targets import import_target

SCANNED = (".py", ".lua", ".c", ".h")
REGISTRY_MODULE = Path("workers/objects/__init__.py")


def shared(spec: ObjectSpec[Any]) -> set[str]:
    """The attributes of ``spec``'s fields that another registered type declares too."""
    others = {f.attr for other in SPECS if other is not spec for f in other.fields}
    return {field.attr for field in spec.fields if field.attr in others}


def own_names(spec: ObjectSpec[Any]) -> set[str]:
    return own_identifiers(spec) | own_aliases(spec)


def own_identifiers(spec: ObjectSpec[Any]) -> set[str]:
    """The type's names as code spells them: its name, classes, module, field attributes."""
    request = parse_load_request(
        {"source": "s3://etl-in/names.csv", "object": spec.name, **spec.example.payload,
         **({"api": "ingestion"} if not spec.bulk_import else {})}
    )  # fmt: skip
    common = shared(spec)
    return {
        spec.name,
        spec.member,
        type(spec).__name__,
        type(import_target(request)).__name__,
        type(spec).__module__.rsplit(".", 1)[1],
        *(field.attr for field in spec.fields if field.attr not in common),
    }


def own_aliases(spec: ObjectSpec[Any]) -> set[str]:
    """The payload names of the type's own fields (not those it shares with another type)."""
    common = shared(spec)
    return {field.alias for field in spec.fields if field.attr not in common}


def home(spec: ObjectSpec[Any]) -> Path:
    return Path(*type(spec).__module__.split(".")).with_suffix(".py")


def _pattern(names: set[str], apart: str = r"\w/") -> re.Pattern[str]:
    """``names`` as whole words: not inside a longer name or a path segment (``apart``)."""
    alternatives = "|".join(re.escape(name) for name in sorted(names))
    return re.compile(rf"(?<![{apart}])(" + (alternatives or r"(?!)") + rf")(?![{apart}])")


# Token types holding text (an f-string's literal parts are FSTRING_MIDDLE from Python 3.12).
_TEXT_TOKENS = {tokenize.STRING, tokenize.COMMENT, getattr(tokenize, "FSTRING_MIDDLE", -1)}


def _text_by_line(source: str) -> dict[int, str]:
    """The strings and comments of Python ``source``, by line (where payload names are text)."""
    text: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in _TEXT_TOKENS:
            for offset, part in enumerate(token.string.splitlines()):
                number = token.start[0] + offset
                text[number] = text.get(number, "") + " " + part
    return text


def elsewhere(root: Path, spec: ObjectSpec[Any], names: set[str] | None = None) -> list[str]:
    """``path:line: text`` for each line under ``root/workers`` naming the type outside its home.

    The registry may name the spec's module and class: that is its registry entry.
    Payload names (aliases) count in Python files only inside strings and comments.
    """
    identifiers = own_identifiers(spec) if names is None else names
    aliases = own_aliases(spec) if names is None else set()
    registry_names = {type(spec).__name__, type(spec).__module__.rsplit(".", 1)[1]}
    anywhere = _pattern(identifiers)
    as_text = _pattern(aliases, r"\w/-")  # a flag (--list-action) is not the alias
    found = []
    for path in sorted((root / "workers").rglob("*")):
        relative = path.relative_to(root)
        if path.suffix not in SCANNED or relative == home(spec):
            continue
        source = path.read_text("utf-8")
        python = path.suffix == ".py"
        text = _text_by_line(source) if python and aliases else {}
        for number, line in enumerate(source.splitlines(), start=1):
            hits = set(anywhere.findall(line))
            hits |= set(as_text.findall(text.get(number, "") if python else line))
            if relative == REGISTRY_MODULE:
                hits -= registry_names
            if hits:
                found.append(f"{relative}:{number}: {line.strip()}")
    return found
