"""mkdocs hook: replace the marker in the configuration page with the generated reference."""

from __future__ import annotations

from typing import Any

from workers.settings_doc import render_settings_table

MARKER = "<!-- settings-reference -->"
PAGE = "operators/configuration.md"


def on_page_markdown(markdown: str, *, page: Any, config: Any, files: Any) -> str:
    """Fill the configuration page; fail the build if its marker went missing."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{PAGE}: the marker {MARKER} is missing, the reference has nowhere to go")
    return markdown.replace(MARKER, render_settings_table())
