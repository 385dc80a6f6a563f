"""MCP resources: read-only views of the project an agent or a human can open without calling a tool.

- ``alembic://history``: every revision (parents, message, file, head or not) and where the target stands;
- ``alembic://revision/{revision}``: one revision's file and its review, computed on read (review_migration
  is read-only: it never runs a migration);
- ``alembic://backups``: the verified backups (list_backups);
- ``alembic://skill``: skill.md, the workflow the prompts walk;
- ``alembic://approvals``: the human approvals log, ``.alembic-mcp-approvals.jsonl``;
- ``alembic://reference/{tool}``: a tool's full description and its complete result schema.

Nothing here writes a file or changes a database, so every resource stays available on a read-only
server. A resource built on a tool the ``tools`` allowlist leaves out says so instead of calling it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from alembic_mcp.server.context import ServerState
from alembic_mcp.server.reference import DETAILS
from alembic_mcp.server.schemas import full_output_schemas
from alembic_mcp.tools.backup.listing import list_backups
from alembic_mcp.tools.core.approvals import read_approvals
from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import AlembicMcpError
from alembic_mcp.tools.core.urls import redact
from alembic_mcp.tools.heads.check import check_heads
from alembic_mcp.tools.history.files import history_from_files
from alembic_mcp.tools.history.graph import History, load_history
from alembic_mcp.tools.review.tool import review_migration

JSON = "application/json"
MARKDOWN = "text/markdown"
# skill.md beside the sources (a checkout or an editable install), else where the wheel installs it.
SKILL_PLACES = [
    Path(__file__).resolve().parent.parent / "skill.md",
    Path(sys.prefix) / "share" / "alembic-mcp" / "skill.md",
]


def _as_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


async def _read(state: ServerState, fn) -> Any:
    """Load the project and run ``fn``; domain errors become ResourceError with the password masked."""
    project = None
    try:
        project = state.project()
        return await fn(project)
    except AlembicMcpError as exc:
        url = project.database_url if project is not None else None
        raise ResourceError(redact(str(exc), url)) from None


def _tool_allowed(project: Project, tool: str) -> bool:
    return project.settings.tools is None or tool in project.settings.tools


async def _history(project: Project) -> History:
    """The revision graph from the files' literal ids, or from the worker when a file needs importing."""
    found = await anyio.to_thread.run_sync(history_from_files, project)
    if found is not None:
        return found[0]
    history, _ = await load_history(project, check_env=False)
    return history


def _absolute(project: Project, path: str) -> Path:
    return Path(path) if Path(path).is_absolute() else Path(project.root) / path


def _relative(project: Project, path: str | None) -> str | None:
    if not path:
        return None
    try:
        return str(_absolute(project, path).resolve().relative_to(Path(project.root).resolve()))
    except ValueError:
        return path


async def history_view(project: Project) -> dict[str, Any]:
    history = await _history(project)
    heads = await check_heads(project)
    revisions = [
        {
            "revision": rev,
            "down_revisions": node.down_revisions,
            "message": node.doc.strip().splitlines()[0] if node.doc.strip() else "",
            "file": _relative(project, node.path),
            "head": rev in history.heads,
        }
        for rev in reversed(history.ordered(set(history.nodes)))
        for node in [history.nodes[rev]]
    ]
    return {
        "revisions": revisions,
        "heads": history.heads,
        "database": heads.database.model_dump(mode="json"),
        "findings": [finding.model_dump(mode="json") for finding in heads.findings],
    }


async def revision_view(project: Project, revision: str) -> dict[str, Any]:
    history = await _history(project)
    matches = history.resolve(revision)
    if len(matches) != 1:
        known = ", ".join(sorted(history.nodes)[:20]) or "none"
        raise ResourceError(
            f"revision {revision[:100]!r} matches {len(matches)} revisions; give a full id or a unique "
            f"prefix (known: {known})."
        )
    node = history.nodes[matches[0]]
    source = await anyio.to_thread.run_sync(_absolute(project, node.path).read_text, "utf-8")
    view: dict[str, Any] = {"revision": matches[0], "file": _relative(project, node.path), "source": source}
    if _tool_allowed(project, "review_migration"):
        review = await review_migration(project, revision=matches[0])
        view["review"] = review.model_dump(mode="json")
    else:
        view["review"] = None
        view["note"] = "review_migration is not in this server's tools allowlist, so no review is included."
    return view


async def backups_view(project: Project) -> dict[str, Any]:
    if not _tool_allowed(project, "list_backups"):
        return {"note": "list_backups is not in this server's tools allowlist."}
    return (await list_backups(project)).model_dump(mode="json")


def skill_text() -> str:
    for place in SKILL_PLACES:
        if place.is_file():
            return place.read_text(encoding="utf-8")
    raise ResourceError("skill.md is not installed with this copy of alembic-mcp (looked in the sources and share/).")


def approvals_view(project: Project) -> dict[str, Any]:
    approvals = read_approvals(Path(project.root))
    return {
        "log": ".alembic-mcp-approvals.jsonl",
        "count": len(approvals),
        "approvals": [approval.model_dump(mode="json") for approval in approvals],
    }


def reference_text(tool: str, full_schemas: dict[str, dict[str, Any]]) -> str:
    if tool not in DETAILS or tool not in full_schemas:
        raise ResourceError(f"unknown tool {tool[:100]!r}; this server has: {', '.join(sorted(full_schemas))}.")
    schema = json.dumps(full_schemas.get(tool, {}), indent=2)
    return f"# {tool}\n\n{DETAILS[tool]}\n## Result schema\n\n```json\n{schema}\n```\n"


def register(server: MCPServer, state: ServerState) -> None:
    """Register every resource; call it after the tools (the reference reads their full schemas)."""
    full_schemas = full_output_schemas(server)

    @server.resource("alembic://history", name="history", title="Revision history", mime_type=JSON)
    async def history_resource() -> str:
        """Every revision, newest first, with its parents, message, file and whether it is a head; the target's
        revision status (at_head, behind, ahead, empty, unreachable); broken-history findings. Read-only."""
        return _as_json(await _read(state, history_view))

    @server.resource("alembic://revision/{revision}", name="revision", title="One revision", mime_type=JSON)
    async def revision_resource(revision: str) -> str:
        """One revision (id or unique prefix): its migration file and review_migration's review of it, computed
        now. Read-only: the review never runs the migration."""
        return _as_json(await _read(state, lambda project: revision_view(project, revision)))

    @server.resource("alembic://backups", name="backups", title="Backups", mime_type=JSON)
    async def backups_resource() -> str:
        """The complete, verified backups, newest first, with their restore commands (as list_backups)."""
        return _as_json(await _read(state, backups_view))

    @server.resource("alembic://skill", name="skill", title="The database-migration skill", mime_type=MARKDOWN)
    def skill_resource() -> str:
        """skill.md: the safe migration workflow, how to read verdicts, the escalation rules and common fixes."""
        return skill_text()

    @server.resource("alembic://approvals", name="approvals", title="Human approvals", mime_type=JSON)
    async def approvals_resource() -> str:
        """The human approvals of escalations recorded in .alembic-mcp-approvals.jsonl (who, when, why, which
        file). Read-only: only a human adds to it, with alembic-mcp approve or an elicitation."""

        async def read(project: Project) -> dict[str, Any]:
            return await anyio.to_thread.run_sync(approvals_view, project)

        return _as_json(await _read(state, read))

    @server.resource("alembic://reference/{tool}", name="reference", title="Tool reference", mime_type=MARKDOWN)
    def reference_resource(tool: str) -> str:
        """A tool's full description (every check, argument and result field) and its complete result schema."""
        return reference_text(tool, full_schemas)
