"""skill.md names only what exists: tools registered on the real server (with their real arguments),
result fields and values from the tools' published schemas, and rule ids the code can emit.

How skill.md is read (inline code spans only; fenced blocks are not checked):
- `name(arg=..., ...)`: a tool call; the tool must exist and take those arguments;
- a bare lower-case identifier (`check_heads`, `files_to_commit`, `behind`): a tool name, an argument,
  a result field or an enum value of some tool's schema, or a configuration setting;
- a bare kebab-case id (`drop-column-with-data`): an escalation rule (tools/policy.py) or a finding
  rule (a string constant in the tools package, where every rule id the code emits is written).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import anyio
import pytest

import alembic_mcp.tools as tools_package
from alembic_mcp.server.app import build_server
from alembic_mcp.server.schemas import full_output_schemas
from alembic_mcp.tools.core.config import Settings
from alembic_mcp.tools.core.policy import ESCALATION_RULES

REPO = Path(__file__).resolve().parent.parent
SKILL = REPO / "skill.md"
SKILL_TOOLS = {
    "generate_migration",
    "review_migration",
    "test_roundtrip",
    "check_heads",
    "merge_heads",
    "backup_db",
    "list_backups",
}

# Expected from other branches. Tools and rule ids skill.md relies on that are built on other branches
# and not yet registered/emitted here; "words" are the result fields and values skill.md uses for them.
# After merging those branches, delete the entries that test_expected_from_other_branches_is_not_stale
# reports (when everything is merged: EXPECTED_FROM_OTHER_BRANCHES = {"tools": {}, "rule_ids": set()}).
EXPECTED_FROM_OTHER_BRANCHES: dict = {"tools": {}, "rule_ids": set()}

KEBAB = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$")
IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
CALL = re.compile(r"^([a-z][a-z0-9_]*)\((.*)\)$", re.S)
ARG_NAME = re.compile(r"(?:^|,)\s*([a-z_][a-z0-9_]*)\s*=")


def _spans() -> list[str]:
    text = SKILL.read_text()
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # fenced blocks are not inline mentions
    return [s.strip() for s in re.findall(r"`([^`\n]+)`", text)]


def _schema_words(schema) -> set[str]:
    """Property names and string enum/const values anywhere in a JSON schema."""
    words: set[str] = set()
    if isinstance(schema, dict):
        words |= set(schema.get("properties", {}))
        words |= {v for v in schema.get("enum", []) if isinstance(v, str)}
        if isinstance(schema.get("const"), str):
            words.add(schema["const"])
        for value in schema.values():
            words |= _schema_words(value)
    elif isinstance(schema, list):
        for item in schema:
            words |= _schema_words(item)
    return words


@pytest.fixture(scope="module")
def registered(tmp_path_factory) -> dict[str, dict]:
    """name -> {"args": input properties, "words": everything in the input and output schemas}."""
    import shutil

    project = tmp_path_factory.mktemp("skill") / "residency"
    shutil.copytree(REPO / "examples" / "residency", project, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    server = build_server(str(project))
    listed = anyio.run(server.list_tools)
    full = full_output_schemas(server)  # tools/list publishes only the verdict fields of each result
    return {
        t.name: {
            "args": set(t.input_schema.get("properties", {})),
            "words": _schema_words(t.input_schema) | _schema_words(full.get(t.name, {})),
        }
        for t in listed
    }


@pytest.fixture(scope="module")
def known_tools(registered) -> dict[str, dict]:
    return {**EXPECTED_FROM_OTHER_BRANCHES["tools"], **registered}


def _code_rule_ids() -> set[str]:
    """Every kebab-case string constant in the tools package (rule ids, catalogue keys, Literals)."""
    found: set[str] = set()
    for root in tools_package.__path__:
        for path in Path(root).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEBAB.match(node.value):
                    found.add(node.value)
    return found


def test_skill_has_frontmatter():
    head = SKILL.read_text().split("---")
    assert SKILL.read_text().startswith("---\n") and len(head) >= 3
    fields = dict(line.split(":", 1) for line in head[1].strip().splitlines())
    assert fields["name"].strip() and len(fields["description"].strip()) > 40


def test_tool_calls_name_real_tools_and_arguments(known_tools):
    calls = [m for m in (CALL.match(s) for s in _spans()) if m]
    assert calls, "skill.md should show tool calls like `check_heads()`"
    for match in calls:
        name, args = match.group(1), match.group(2)
        assert name in SKILL_TOOLS, f"`{match.group(0)}`: {name} is not one of the alembic-mcp tools"
        assert name in known_tools, f"`{match.group(0)}`: {name} is not registered on the server"
        for arg in ARG_NAME.findall(args):
            assert arg in known_tools[name]["args"], f"`{match.group(0)}`: {name} has no argument {arg}"


def test_bare_identifiers_exist(known_tools):
    vocabulary = set(known_tools) | set(Settings.model_fields)
    for tool in known_tools.values():
        vocabulary |= tool["args"] | tool["words"]
    unknown = sorted({s for s in _spans() if IDENT.match(s)} - vocabulary)
    assert not unknown, f"skill.md names tools, arguments or fields that do not exist: {unknown}"


def test_rule_ids_exist():
    known = set(ESCALATION_RULES) | _code_rule_ids() | EXPECTED_FROM_OTHER_BRANCHES["rule_ids"]
    mentioned = {s for s in _spans() if KEBAB.match(s)}
    assert mentioned, "skill.md should name rule ids"
    assert not mentioned - known, f"skill.md names unknown rule ids: {sorted(mentioned - known)}"


def test_every_escalation_rule_and_tool_is_covered(registered):
    spans = _spans()
    mentioned = set(spans) | {m.group(1) for m in (CALL.match(s) for s in spans) if m}
    missing_rules = set(ESCALATION_RULES) - mentioned
    assert not missing_rules, f"skill.md lacks escalation rules {sorted(missing_rules)}"
    tools = set(registered) | set(EXPECTED_FROM_OTHER_BRANCHES["tools"])
    assert tools >= SKILL_TOOLS, f"neither registered nor expected: {SKILL_TOOLS - tools}"
    assert tools <= mentioned, f"skill.md never mentions {sorted(tools - mentioned)}"


def test_expected_from_other_branches_is_not_stale(registered):
    """Entries that now exist for real must leave EXPECTED_FROM_OTHER_BRANCHES (the lead's reminder)."""
    stale_tools = sorted(set(EXPECTED_FROM_OTHER_BRANCHES["tools"]) & set(registered))
    emitted = _code_rule_ids() | set(ESCALATION_RULES)
    stale_rules = sorted(EXPECTED_FROM_OTHER_BRANCHES["rule_ids"] & emitted)
    assert not stale_tools and not stale_rules, (
        "now registered or emitted by the code; delete from EXPECTED_FROM_OTHER_BRANCHES: "
        f"tools {stale_tools}, rule_ids {stale_rules}"
    )


# ------------------------------------------------------------------ commands and flags (issue 18)

COMMAND = re.compile(r"^alembic-mcp\s+([a-z][a-z-]*)(.*)$", re.S)
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def _subcommands() -> dict[str, set[str]]:
    """Each CLI subcommand with its option strings."""
    import argparse

    from alembic_mcp.server.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: {option for action in child._actions for option in action.option_strings}
        for name, child in sub.choices.items()
    }


def test_cli_commands_and_flags_exist():
    """`alembic-mcp <command> --flag ...` names a real subcommand and its real flags; a flag named alone
    (`--fix`) is a flag of some subcommand."""
    subcommands = _subcommands()
    every_flag = set().union(*subcommands.values())
    commands = [m for m in (COMMAND.match(s) for s in _spans()) if m]
    assert commands, "skill.md should show CLI commands"
    for match in commands:
        name, rest = match.group(1), match.group(2)
        assert name in subcommands, f"`{match.group(0)}`: alembic-mcp has no command {name}"
        unknown = set(FLAG.findall(rest)) - subcommands[name]
        assert not unknown, f"`{match.group(0)}`: {name} has no {sorted(unknown)}"
    alone = {s for s in _spans() if FLAG.fullmatch(s)}
    assert not alone - every_flag, f"skill.md names CLI flags no command has: {sorted(alone - every_flag)}"


def test_the_fix_flag_and_argument_are_named_together():
    """apply_fixes is the MCP argument, --fix the CLI flag: skill.md names both where it explains them."""
    text = SKILL.read_text()
    assert "apply_fixes=true" in text and "`alembic-mcp review-migration --fix`" in text and "`--diff`" in text
    assert "review-migration" in _subcommands() and "--fix" in _subcommands()["review-migration"]


def test_app_check_commands_run_pytest_as_a_module():
    """`pytest` alone does not put the project folder on sys.path (the app's tests cannot import it):
    the examples in skill.md and the example project say `python -m pytest`."""
    text = SKILL.read_text() + (REPO / "examples" / "residency" / "app_tests" / "test_models_query.py").read_text()
    assert re.findall(r"(?<!-m )\bpytest -", text) == []
    assert "python -m pytest" in SKILL.read_text()
