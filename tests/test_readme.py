"""The README's tool reference is generated from the real tool list and must be up to date."""

from __future__ import annotations

from pathlib import Path

from alembic_mcp.server import toolref

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_tool_reference_matches_the_server():
    text = README.read_text()
    assert toolref.BEGIN in text and toolref.END in text
    current = text[text.index(toolref.BEGIN) : text.index(toolref.END) + len(toolref.END)]
    assert current == toolref.render(), "run: python -m alembic_mcp.server.toolref --write README.md"
