"""``alembic-mcp demo``: the six tools driven over stdio by a real MCP client, the way an agent would,
on a copy of the bundled residency example with a SQLite database holding data."""

from __future__ import annotations

import shutil
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from alembic_mcp.server.demo_project import create_demo_project, edit_models, write_branch_revision


@dataclass
class Step:
    title: str
    tool: str
    arguments: dict[str, Any]
    expected: str
    before: Any = None  # callable(root, state) run before the call: the agent's edit


@dataclass
class Outcome:
    step: Step
    verdict: str
    summary: str
    ok: bool


def _add_middle_name(root: Path, state: dict) -> None:
    edit_models(
        root,
        "    role = Column(String(20), nullable=False)  # resident or faculty\n",
        "    role = Column(String(20), nullable=False)  # resident or faculty\n"
        "    middle_name = Column(String(60), nullable=True)\n",
    )


def _make_two_heads(root: Path, state: dict) -> None:
    head = state["head"]
    write_branch_revision(root, "d3a0b1c00001", head, "rotations", "site")
    write_branch_revision(root, "d3a0b1c00002", head, "persons", "pager")
    edit_models(
        root,
        "    max_hours_per_week = Column(",
        "    site = Column(String(40), nullable=True)\n    max_hours_per_week = Column(",
    )
    edit_models(
        root,
        "    pgy_level = Column(Integer, nullable=True)\n",
        "    pgy_level = Column(Integer, nullable=True)\n    pager = Column(String(40), nullable=True)\n",
    )


def _drop_pgy_level(root: Path, state: dict) -> None:
    edit_models(root, "    pgy_level = Column(Integer, nullable=True)\n", "")


STEPS = [
    Step("Where does the history stand?", "check_heads", {}, "proceed"),
    Step(
        "Add a nullable middle_name to persons and generate the migration",
        "generate_migration",
        {"message": "add middle name to persons"},
        "proceed",
        _add_middle_name,
    ),
    Step("Review the pending migration", "review_migration", {}, "proceed"),
    Step(
        "Rehearse upgrade, downgrade, upgrade on a scratch copy with data",
        "test_roundtrip",
        {"data_from": "target"},
        "proceed",
    ),
    Step(
        "Back up the database before anything runs against it", "backup_db", {"label": "before-middle-name"}, "proceed"
    ),
    Step("Two branches were merged in git: two heads", "check_heads", {}, "fix", _make_two_heads),
    Step("Merge the heads", "merge_heads", {"message": "merge site and pager"}, "proceed"),
    Step(
        "Drop pgy_level, which holds data (dry run)",
        "generate_migration",
        {"message": "drop pgy level", "dry_run": True},
        "escalate",
        _drop_pgy_level,
    ),
]


def _print_verdict(outcome: Outcome, data: dict) -> None:
    mark = {"proceed": "PROCEED", "fix": "FIX", "escalate": "ESCALATE"}.get(outcome.verdict, outcome.verdict)
    status = "as expected" if outcome.ok else f"EXPECTED {outcome.step.expected.upper()}"
    print(f"  verdict: {mark} ({status})")
    print(textwrap.indent(textwrap.fill(outcome.summary, 96), "  "))
    for esc in data.get("escalations", [])[:3]:
        print(f"  escalation [{esc['rule']}]: {esc['reason']}")
    for finding in [f for f in data.get("findings", []) if f["severity"] != "info"][:3]:
        print(f"  finding [{finding['rule']}] {finding['severity']}: {finding['message']}")


async def run_demo(root: Path, steps: list[Step] = STEPS) -> list[Outcome]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "alembic_mcp.server", "serve", "--project", str(root)]
    )
    outcomes: list[Outcome] = []
    state: dict[str, Any] = {}
    async with Client(params, read_timeout_seconds=600) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        for number, step in enumerate(steps, 1):
            print(f"\n[{number}/{len(steps)}] {step.title}\n  -> {step.tool}({step.arguments or ''})")
            if step.tool not in tools:
                outcomes.append(Outcome(step, "missing", f"the server has no tool {step.tool}", False))
                print(f"  the server has no tool {step.tool}")
                continue
            if step.before:
                step.before(root, state)

            async def show_progress(progress: float, total: float | None, message: str | None) -> None:
                share = f"{progress:.0f}/{total:.0f}" if total else f"{progress:.0f}"
                print(f"     .. {share} {message or ''}", flush=True)

            result = await client.call_tool(step.tool, step.arguments, progress_callback=show_progress)
            if result.is_error:
                text = getattr(result.content[0], "text", "error") if result.content else "error"
                outcomes.append(Outcome(step, "error", text, False))
                print(f"  error: {text}")
                continue
            data = result.structured_content or {}
            outcome = Outcome(
                step, data.get("verdict", "?"), data.get("summary", ""), data.get("verdict") == step.expected
            )
            outcomes.append(outcome)
            _print_verdict(outcome, data)
            if step.tool == "check_heads" and data.get("heads"):
                state["head"] = data["heads"][0]["revision"]
            if step.tool == "generate_migration" and data.get("written"):
                state["head"] = data["revision"]
    return outcomes


def demo(keep: bool = False) -> int:
    print("alembic-mcp demo: a residency-scheduling app on SQLite, driven over MCP stdio like an agent would.")
    root = create_demo_project()
    print(f"project copied to {root} and filled with data (195 persons, 12 rotations, 1200 assignments)")
    try:
        outcomes = anyio.run(run_demo, root)
    finally:
        if not keep:
            shutil.rmtree(root.parent, ignore_errors=True)
    good = sum(o.ok for o in outcomes)
    print(f"\nSummary: {good} of {len(outcomes)} steps gave the expected verdict.")
    for o in outcomes:
        print(f"  {'ok ' if o.ok else 'BAD'} {o.step.tool:<20} {o.verdict:<9} {o.step.title}")
    if keep:
        print(f"\nThe project is kept at {root}")
    return 0 if good == len(outcomes) else 1
