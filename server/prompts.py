"""MCP prompts: the skill's workflows as slash commands a client offers (``/db-migrate`` and two more).

Each prompt returns one user message that walks the agent through the tools in the skill's order
(skill.md is the source; the resource ``alembic://skill`` serves it in full). Prompts only describe
work: rendering one never calls a tool, runs a migration or touches a database.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

MAX_CHANGE_CHARS = 2000

VERDICTS = """\
Read every result the same way: proceed -> next step; fix -> apply each error finding's `fix`, call the
same tool again (after two honest attempts with the same finding, ask a human); escalate -> stop, tell
the human the summary and each escalation's rule, reason and evidence, and wait for their decision.
Never add suppression comments, never edit .alembic-mcp-approvals.jsonl, never run `alembic upgrade`
or `alembic downgrade` against a real database: applying migrations there is the human's deploy step.
The full skill is the resource alembic://skill."""

DB_MIGRATE = """\
Make this database change safely with the alembic-mcp tools: {change}

1. check_heads(): one head and no broken files. Several heads: merge_heads(dry_run=true), then
   merge_heads(). Database status `ahead`: stop and ask. `empty` is fine (a new database);
   `unreachable`: rehearsals still run on a scratch database, tell the human the target could not be read.
2. Change the models: one logical change. Data migrations define the table they touch inside the
   migration (sa.table/sa.column or a frozen model class), never import the application's models.
3. generate_migration(message="<short description>"): check that `operations` lists exactly your change
   and read the blind spots (a drop plus an add is probably a rename). For a data migration use
   autogenerate=false and write upgrade() and downgrade() by hand.
4. review_migration(revision="<new revision id>") after every hand edit; follow the verdict.
5. test_roundtrip(): upgrade, downgrade, upgrade on a scratch database. Read differences, data_loss,
   failure and drift. A drift that only says the models still have a column this migration drops on
   purpose is expected: do not re-add the column with generate_migration; remove it from the models.
6. Run the application's tests against the scratch database, never against the real one.
7. Before anything risky reaches a real database: backup_db(label="before-...", verify="restore"); give
   the human backup_id and restore_command.
8. Commit the migration together with the model files (generate_migration's files_to_commit) and
   .alembic-mcp-approvals.jsonl when a human approved an escalation.
Finish with a short report: the revision, the verdicts, warnings, and what a human must still decide.

{verdicts}
"""

REVIEW_PENDING = """\
Review the migrations that are not yet applied to the target database, with the alembic-mcp tools.

1. check_heads(): note the database status and the pending revisions; several heads must be merged first.
2. review_migration() (no arguments: every revision not yet applied). For each finding give the rule,
   file:line, why it matters and its fix; list escalations separately, for a human.
3. test_roundtrip() over the same revisions: report differences, data_loss, failure, drift and, on
   PostgreSQL, locks and rewrites (what blocks traffic during the deploy).
4. Answer with one line per revision (id, verdict, the one thing to change) and the overall verdict.
Change nothing yourself unless asked: this is a review.

{verdicts}
"""

RECOVER = """\
A migration failed. Recover safely with the alembic-mcp tools.{error}

1. Do not retry the upgrade on the real database, do not `alembic stamp`, do not edit its tables by hand.
2. check_heads(): where the database stands now (its revision and status) and whether the history is intact.
3. test_roundtrip(revision="<failed revision>") reproduces the failure on a scratch database: read
   `failure` (`mode`, `error`, `applied`: DDL a non-transactional backend such as MariaDB left behind)
   and its `recovery` steps. Known modes (not-null-violation, foreign-key-violation, unique-violation,
   type-mismatch, object-already-exists, object-does-not-exist) come with the fix: apply it to the
   migration, review_migration(revision=...) and test_roundtrip() again until it passes.
   `unknown` escalates (migration-failure-unclear): stop and give the human the error, revision and phase.
4. The real database may be half-migrated: tell the human what `applied` lists and propose the repair
   (with a fresh backup_db first); they decide and run it.

{verdicts}
"""


def _bounded(name: str, value: str, limit: int) -> str:
    """A prompt argument, one paragraph and bounded; else an invalid-params error saying how to fix it
    (mcp passes an MCPError through to the client unchanged, any other exception loses its message)."""
    text = " ".join(value.split())
    if not text:
        raise MCPError(INVALID_PARAMS, f"{name} is empty: describe it in words, e.g. 'add middle_name to persons'.")
    if len(text) > limit:
        raise MCPError(INVALID_PARAMS, f"{name} is {len(text)} characters long; keep it under {limit}.")
    return text


def db_migrate_text(change: str) -> str:
    return DB_MIGRATE.format(change=_bounded("change", change, MAX_CHANGE_CHARS), verdicts=VERDICTS)


def review_pending_text() -> str:
    return REVIEW_PENDING.format(verdicts=VERDICTS)


def recover_text(error: str | None) -> str:
    said = f"\nWhat failed: {_bounded('error', error, MAX_CHANGE_CHARS)}" if error else ""
    return RECOVER.format(error=said, verdicts=VERDICTS)


def register(server: MCPServer) -> None:
    @server.prompt(
        name="db-migrate",
        title="Change the database schema safely",
        description="Walk the whole safe-migration workflow for a change described in words: check heads, "
        "change the models, generate, review, rehearse, test the app on the scratch database, back up, commit.",
    )
    def db_migrate(change: str) -> str:
        """``change``: the schema change in words, e.g. 'add middle_name to persons'."""
        return db_migrate_text(change)

    @server.prompt(
        name="review-pending",
        title="Review pending migrations",
        description="Review and rehearse every migration not yet applied to the target database; changes nothing.",
    )
    def review_pending() -> str:
        return review_pending_text()

    @server.prompt(
        name="recover-failed-migration",
        title="Recover from a failed migration",
        description="Diagnose a failed migration on a scratch database and propose a repair a human approves.",
    )
    def recover_failed_migration(error: str | None = None) -> str:
        """``error``: the error message the failed upgrade printed, if you have it."""
        return recover_text(error)
