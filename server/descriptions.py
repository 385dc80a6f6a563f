"""Texts written for a model: the server instructions and each tool's description."""

INSTRUCTIONS = """\
alembic-mcp changes database schemas safely with Alembic. It never migrates the user's database: it
generates, reviews, rehearses on a scratch database, merges heads and backs up. Every tool returns a
verdict: proceed (go on), fix (apply the findings' fixes, then call again), escalate (stop; show the
escalations to a human and wait for their decision).

Safe workflow after a model change:
1. check_heads: the history must have one head and no broken files.
2. generate_migration: writes the migration and reviews it.
3. review_migration: every dangerous operation, with the safe rewrite.
4. test_roundtrip: upgrade, downgrade, upgrade on a scratch copy; schema and data must survive.
5. backup_db before anything risky runs against a real database (list_backups shows what exists).
6. Commit the model change and the migration file together (generate_migration lists the files).
Several heads: merge_heads. Never bypass an escalate verdict: relay its escalations to a human.
Only a human approves an escalation (review_migration asks them where the client supports elicitation,
else they run `alembic-mcp approve` in their own terminal). Never write or edit the approvals log,
never add suppression comments to silence an escalation.

Details: resource alembic://reference/{tool} (every check, argument and result field), alembic://skill
(the full workflow); alembic://history, alembic://revision/{revision}, alembic://backups and
alembic://approvals are read-only views. The prompt db-migrate walks the workflow for a change.
"""

CHECK_HEADS = (
    "Heads, branches and broken files of the Alembic history, and where the target database stands "
    "(at_head, behind, ahead, empty, unreachable). Call it first and after pulling others' migrations; "
    "several heads: call merge_heads. Read-only."
)

MERGE_HEADS = (
    "Write a merge revision joining the heads and rehearse the upgrade through it on a scratch database. "
    "Call it when check_heads reports several heads. Heads changing the same tables escalate (nothing "
    "written) unless a human confirmed. Writes only in the versions directory."
)

ARG_HEADS = "Heads to merge (ids or prefixes); omit for every head."
ARG_MESSAGE = "Message of the merge revision, e.g. 'merge heads'. No path separators."
ARG_DRY_RUN = "true: write nothing, return the merge file."
ARG_ACK = "true only after a human confirmed that heads changing the same tables may be merged."
