"""The error tree: every error is transient or permanent, and the drawn tree is the real one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import workers.api
import workers.schedule.config
import workers.schedule.cron
import workers.state.ledger
from workers import errors
from workers.errors import (
    DamagedLedgerRecord,
    LeaseLost,
    MarketoError,
    MktoBulkError,
    PermanentError,
    TransientError,
)

ROOT = Path(__file__).resolve().parent.parent
# Under neither branch on purpose: a lost lease is no failure, MarketoError is only
# ever raised as one of its transient or permanent subclasses, and a damaged ledger
# record is an unexpected error (retried a bounded number of times, then failed).
NEITHER = {LeaseLost, MarketoError, DamagedLedgerRecord}
LINE = re.compile(
    r"^(?P<indent>(?:\|    |     )*)(?:\+-- )?(?P<name>\w+)(?: \[(?P<also>[\w, ]+)\])?"
)


def _all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    sub: type
    for sub in cls.__subclasses__():
        found |= {sub} | _all_subclasses(sub)
    return found


def _drawn_tree(text: str) -> dict[str, tuple[str | None, set[str]]]:
    """Each class of an ASCII tree: (its parent in the drawing, the bracketed other parents)."""
    tree: dict[str, tuple[str | None, set[str]]] = {}
    path: list[str] = []
    for line in text.strip().splitlines():
        match = LINE.match(line)
        assert match, f"unreadable line in the error tree: {line!r}"
        depth = len(match["indent"]) // 5 + (1 if "+--" in line else 0)
        del path[depth:]
        also = {name.strip() for name in (match["also"] or "").split(",") if name.strip()}
        tree[match["name"]] = (path[-1] if path else None, also)
        path.append(match["name"])
    return tree


def _docstring_tree() -> str:
    doc = errors.__doc__ or ""
    drawing = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]  # the indented block
    return "\n".join(line[4:] for line in drawing.rstrip().splitlines())


def _page_tree() -> str:
    page = (ROOT / "docs/internals/errors.md").read_text()
    return page.split("```text\n", 1)[1].split("```", 1)[0]


def test_every_error_is_transient_or_permanent_unless_named_as_neither() -> None:
    strays = sorted(
        cls.__name__
        for cls in _all_subclasses(MktoBulkError)
        if not issubclass(cls, TransientError | PermanentError) and cls not in NEITHER
    )
    assert strays == []
    both = sorted(
        cls.__name__
        for cls in _all_subclasses(MktoBulkError)
        if issubclass(cls, TransientError) and issubclass(cls, PermanentError)
    )
    assert both == []


def test_the_errors_named_elsewhere_join_the_tree_and_keep_their_imports() -> None:
    assert workers.state.ledger.LedgerError is errors.LedgerError
    assert workers.api.LoadNotFound is errors.LoadNotFound
    assert workers.api.LoadWaitTimeout is errors.LoadWaitTimeout
    assert workers.schedule.config.ScheduleFileError is errors.ScheduleFileError
    assert workers.schedule.config.EntryError is errors.EntryError
    assert workers.schedule.cron.CronError is errors.CronError
    assert issubclass(errors.LedgerError, PermanentError)
    assert issubclass(errors.LoadNotFound, PermanentError)
    assert issubclass(errors.LoadWaitTimeout, TransientError)
    assert issubclass(errors.ScheduleFileError, errors.SettingsError)
    # Callers that caught the built-in parents still catch them.
    assert issubclass(errors.EntryError, ValueError)
    assert issubclass(errors.CronError, ValueError)
    assert issubclass(errors.LedgerError, RuntimeError)


def test_the_drawn_tree_holds_every_error_under_its_real_parents() -> None:
    tree = _drawn_tree(_docstring_tree())
    classes = {cls.__name__: cls for cls in _all_subclasses(MktoBulkError) | {MktoBulkError}}
    assert sorted(set(classes) - set(tree)) == [], "errors missing from the drawn tree"
    assert sorted(set(tree) - set(classes)) == [], "names in the tree that are no errors"
    for name, (parent, also) in tree.items():
        bases = {base.__name__ for base in classes[name].__bases__}
        drawn = ({parent} if parent else {"Exception"}) | also
        assert drawn == bases, f"{name}: drawn under {sorted(drawn)}, defined on {sorted(bases)}"


def test_the_docs_page_draws_the_same_tree_as_the_module() -> None:
    assert _page_tree().strip() == _docstring_tree().strip()


def test_no_module_but_errors_py_defines_an_error_of_the_tree() -> None:
    names = {cls.__name__ for cls in _all_subclasses(MktoBulkError) | {MktoBulkError}}
    elsewhere = []
    for path in sorted((ROOT / "workers").rglob("*.py")):
        if path.name == "errors.py" and path.parent.name == "workers":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and base.id in names for base in node.bases
            ):
                elsewhere.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert elsewhere == []
