"""``split.json``: what reading a split's files back row by row needs (the results file).

Written beside the files when a split that wrote any file ends, however it ends
(successfully or not): the source objects
in the order their records went into the files, the formats, the columns (and
which source columns they came from), the key fields, and how many files were
written (a split whose source failed may have written files it never announced).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workers.errors import SourceNotFound
from workers.split.header_check import DELIMITERS, HeaderPlan, TargetFields
from workers.storage import Storage, join_uri

if TYPE_CHECKING:
    from workers.split.run import SplitResult

MANIFEST_NAME = "split.json"


def write_manifest(
    storage: Storage,
    dest: str,
    source: str,
    result: SplitResult,
    sources: Sequence[str],
    plan: HeaderPlan,
    input_format: str,
    target: TargetFields | None,
) -> None:
    manifest = {
        "version": 1,
        "source": source,
        "sources": list(sources),
        "format": result.output_format,
        "input_format": input_format,
        "columns": plan.output_columns,
        "source_columns": plan.source_columns,
        "keep": plan.keep,
        "key_fields": list(target.key_fields) if target else [],
        "files": len(result.files),
        "rows": result.rows,
        "rejects": result.rejects,
        "rejects_file": result.rejects_uri,
    }
    storage.put(join_uri(dest, MANIFEST_NAME), [json.dumps(manifest, indent=1).encode()])


@dataclass(frozen=True)
class Manifest:
    """A split's ``split.json`` as read back (empty for a split that never started)."""

    sources: tuple[str, ...] = ()
    output_format: str = "csv"
    input_format: str = "csv"
    columns: tuple[str, ...] = ()
    keep: tuple[int, ...] | None = None
    key_fields: tuple[str, ...] = ()
    files: int = 0
    found: bool = False
    ranks: dict[str, int] = field(default_factory=dict)

    @property
    def delimiter(self) -> str:
        return DELIMITERS.get(self.output_format, ",")

    @property
    def input_delimiter(self) -> str:
        return DELIMITERS.get(self.input_format, ",")

    def rank(self, source: str) -> int:
        """A source's place in the split's order (unknown ones last)."""
        return self.ranks.get(source, len(self.ranks))


def read_manifest(storage: Storage, dest: str, fallback_format: str = "csv") -> Manifest:
    """The manifest under ``dest``; an empty one when the split wrote none."""
    try:
        data = json.loads(storage.read_bytes(join_uri(dest, MANIFEST_NAME)))
    except SourceNotFound:
        return Manifest(output_format=fallback_format, input_format=fallback_format)
    sources = tuple(str(s) for s in data.get("sources", []))
    keep = data.get("keep")
    return Manifest(
        sources=sources,
        output_format=str(data.get("format") or fallback_format),
        input_format=str(data.get("input_format") or fallback_format),
        columns=tuple(str(c) for c in data.get("columns", [])),
        keep=None if keep is None else tuple(int(k) for k in keep),
        key_fields=tuple(str(k) for k in data.get("key_fields", [])),
        files=int(data.get("files", 0)),
        found=True,
        ranks={name: rank for rank, name in enumerate(sources)},
    )
