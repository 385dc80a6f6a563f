"""The command lines in docs/clients.md, skill.md, README.md and the Dockerfile's usage comment use real
`alembic-mcp` subcommands and flags: checked against the CLI's own argparse parser."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from test_skill import EXPECTED_FROM_OTHER_BRANCHES

from alembic_mcp.server.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "docs" / "clients.md", REPO / "skill.md", REPO / "README.md", REPO / "Dockerfile"]
COMMAND = re.compile(r"\balembic-mcp ([a-z]+(?:-[a-z]+)*)(?=\s|$)(.*)")


def _code(text: str) -> list[str]:
    """Lines of fenced blocks (continuations joined, comments dropped) and inline code spans."""
    lines: list[str] = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        joined = re.sub(r"\\\n\s*", " ", block)
        lines += [re.sub(r"\s#\s.*$", "", line) for line in joined.splitlines()]
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    lines += re.findall(r"`([^`]+)`", prose.replace("\n", " "))
    return lines


def _invocations() -> list[tuple[str, str, list[str]]]:
    """(file, subcommand, flags) for every `alembic-mcp <subcommand> ...` in the docs' code."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for line in text.splitlines() if doc.name == "Dockerfile" else _code(text):
            for sub, rest in COMMAND.findall(line):
                rest = re.split(r"\s(?:&&|;|>|2>)\s", rest)[0]  # synopsis lines use | for alternatives
                flags = [t.strip("[]").split("=")[0] for t in rest.split() if t.strip("[").startswith("-")]
                found.append((doc.name, sub, flags))
    return found


@pytest.fixture(scope="module")
def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_docs_show_commands():
    names = {sub for _, sub, _ in _invocations()}
    assert {"serve", "check-heads", "merge-heads"} <= names


def test_subcommands_and_flags_exist(subcommands):
    expected = {name.replace("_", "-") for name in EXPECTED_FROM_OTHER_BRANCHES["tools"]}
    for doc, sub, flags in _invocations():
        if sub in expected and sub not in subcommands:
            continue  # arrives with another branch; checked once merged
        assert sub in subcommands, f"{doc}: `alembic-mcp {sub}` is not a subcommand"
        options = {o for a in subcommands[sub]._actions for o in a.option_strings}
        unknown = [f for f in flags if f not in options]
        assert not unknown, f"{doc}: `alembic-mcp {sub}` has no option {unknown}"
