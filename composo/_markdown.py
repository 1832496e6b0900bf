"""Markdown helpers shared by the reports that go to pull requests and CI step summaries."""

from __future__ import annotations


def cell(text: str) -> str:
    """Text made safe for a Markdown table cell, and for the HTML GitHub allows in Markdown:
    one line, with `&`, `<`, `>` and `|` escaped."""
    text = " ".join(text.split())
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        text = text.replace(raw, escaped)
    return text
