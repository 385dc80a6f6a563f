"""MCP registration of review_migration."""

from typing import Annotated, Literal

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.types import ToolAnnotations
from pydantic import Field

from alembic_mcp.server.arguments import MAX_GIT_REF_CHARS, MAX_PATH_CHARS, MAX_REVISION_CHARS
from alembic_mcp.server.context import ServerState, progress_of, run_tool
from alembic_mcp.server.elicit import EscalationApproval, approval_reason, client_can_elicit, client_name
from alembic_mcp.server.rehearsal import rehearse_changed
from alembic_mcp.tools.core.errors import InvalidArgument
from alembic_mcp.tools.review.approve import approval_question, file_digests, record_elicited
from alembic_mcp.tools.review.tool import ReviewMigrationResult, review_migration

REVIEW_MIGRATION = (
    "Review migrations before anything runs them: dangerous operations, why, the safe rewrite, and what a"
    " human must decide. Call it after writing or editing a migration; default: revisions not yet "
    "applied. fix: apply the fixes (apply_fixes=true does the mechanical ones), call again; escalate: relay to a "
    "human, never silence it."
)

ARG_REVISION = (
    "Revisions in Alembic syntax: an id or unique prefix, 'head', 'heads', a branch label, or a range "
    "like 'base:head'. Omit (with path) for every revision not yet applied."
)
ARG_PATH = (
    "One migration file inside the versions directory, e.g. 'migrations/versions/3f2a_add_email.py'. Not with revision."
)
ARG_INCLUDE_SQL = "true: also return each revision's SQL rendered offline."
ARG_CHANGED_SINCE = "Git ref, e.g. 'origin/main': review what changed since it, with the commit rules. Alone."
ARG_DETAIL = "summary (each rule explained once) or full."
ARG_APPLY_FIXES = "true: apply the mechanical fixes, review again, rehearse; failing ones undone."
ARG_SPLIT = "With apply_fixes: add, backfill, NOT NULL as three revisions."
ARG_DIFF_ONLY = "With apply_fixes: only show the diffs, write nothing."


def register(server: MCPServer, state: ServerState) -> None:
    # The review the elicitation was about, per call arguments: the tool records approvals for exactly it.
    asked: dict[tuple, tuple[ReviewMigrationResult, dict[str, str]]] = {}

    async def ask_for_approval(
        ctx: Context,
        revision: str | None = None,
        path: str | None = None,
        include_sql: bool = False,
        changed_since: str | None = None,
        detail: Literal["summary", "full"] = "summary",
    ) -> Elicit[EscalationApproval] | None:
        """Ask the human to approve the escalations (when the client can elicit; the agent cannot answer)."""
        if not client_can_elicit(ctx):
            return None

        async def first_review(project):
            result = await review_migration(
                project, revision=revision, path=path, include_sql=include_sql, changed_since=changed_since
            )
            return result, file_digests(project, result)

        result, digests = await run_tool(state, first_review)
        if not result.escalations:
            return None
        asked[(revision, path, include_sql, changed_since)] = (result, digests)
        return Elicit(approval_question(result), EscalationApproval)

    @server.tool(
        name="review_migration",
        title="Review migrations",
        description=REVIEW_MIGRATION,
        annotations=ToolAnnotations(
            readOnlyHint=False,  # apply_fixes=true rewrites migration files
            destructiveHint=False,
            idempotentHint=False,
            openWorldHint=False,
        ),
    )
    async def review_migration_tool(
        ctx: Context,
        revision: Annotated[
            str | None, Field(description=ARG_REVISION, min_length=1, max_length=MAX_REVISION_CHARS)
        ] = None,
        path: Annotated[str | None, Field(description=ARG_PATH, min_length=1, max_length=MAX_PATH_CHARS)] = None,
        include_sql: Annotated[bool, Field(description=ARG_INCLUDE_SQL)] = False,
        changed_since: Annotated[
            str | None, Field(description=ARG_CHANGED_SINCE, min_length=1, max_length=MAX_GIT_REF_CHARS)
        ] = None,
        detail: Annotated[Literal["summary", "full"], Field(description=ARG_DETAIL)] = "summary",
        apply_fixes: Annotated[bool, Field(description=ARG_APPLY_FIXES)] = False,
        diff_only: Annotated[bool, Field(description=ARG_DIFF_ONLY)] = False,
        split: Annotated[bool, Field(description=ARG_SPLIT)] = False,
        human: Annotated[ElicitationResult[EscalationApproval], Resolve(ask_for_approval)] = None,  # type: ignore[assignment]  # mcp fills it
    ) -> ReviewMigrationResult:
        pending = asked.pop((revision, path, include_sql, changed_since), None)
        reason = approval_reason(human)

        async def review(project):
            if pending is not None and reason is not None:
                who = f"human via MCP elicitation ({client_name(ctx)})"
                record_elicited(project, *pending, reason, who)
            if (diff_only or split) and not apply_fixes:
                raise InvalidArgument(
                    "diff_only and split shape the fixes apply_fixes makes: pass apply_fixes=true too."
                )
            return await review_migration(
                project,
                revision=revision,
                path=path,
                include_sql=include_sql,
                progress=progress_of(ctx),
                changed_since=changed_since,
                detail=detail,
                apply_fixes=apply_fixes,
                diff_only=diff_only,
                rehearse=rehearse_changed,
                split=split,
            )

        return await run_tool(state, review)
