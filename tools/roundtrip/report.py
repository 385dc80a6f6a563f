"""test_roundtrip's report: the worker's raw result as typed parts, and the findings and escalations
each part warrants (schema not restored, data lost, locks and rewrites, model drift, seeding, env.py)."""

from __future__ import annotations

import re
from typing import Any

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.verdict import Escalation, Finding
from alembic_mcp.tools.history.cache import parsed as parsed_file
from alembic_mcp.tools.history.graph import History
from alembic_mcp.tools.history.lock_timeout import coverage, literal_scopes
from alembic_mcp.tools.roundtrip.models import (
    DataFrom,
    DataLoss,
    Difference,
    DriftItem,
    LockTaken,
    Rewrite,
    SeedReport,
    StepResult,
)

LOCK_SQL_NAMES = {
    "AccessShareLock": "ACCESS SHARE",
    "RowShareLock": "ROW SHARE",
    "RowExclusiveLock": "ROW EXCLUSIVE",
    "ShareUpdateExclusiveLock": "SHARE UPDATE EXCLUSIVE",
    "ShareLock": "SHARE",
    "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
    "ExclusiveLock": "EXCLUSIVE",
    "AccessExclusiveLock": "ACCESS EXCLUSIVE",
}
LOCK_BLOCKS = {
    "AccessShareLock": "only ACCESS EXCLUSIVE (ALTER TABLE, DROP, TRUNCATE); reads and writes continue",
    "RowShareLock": "EXCLUSIVE and ACCESS EXCLUSIVE; reads and writes continue",
    "RowExclusiveLock": "SHARE and stronger (CREATE INDEX, ALTER TABLE); reads and writes continue",
    "ShareUpdateExclusiveLock": "VACUUM, ANALYZE, CREATE INDEX CONCURRENTLY and schema changes; "
    "reads and writes continue",
    "ShareLock": "INSERT, UPDATE and DELETE until the step commits; reads continue",
    "ShareRowExclusiveLock": "INSERT, UPDATE, DELETE and other SHARE locks; reads continue",
    "ExclusiveLock": "everything but plain SELECT until the step commits",
    "AccessExclusiveLock": "everything, SELECT included, until the step commits",
}
_REPORTED_LOCKS = (
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)


def steps_of(
    project: Project, history: History, raw: dict[str, Any], under_test: list[str], file_of: dict[str, str]
) -> list[StepResult]:
    """A step per revision under test; ``file_of``: each revision's file, relative to the project."""
    steps_by_rev = {s["revision"]: s for s in raw.get("steps", [])}
    steps = []
    for rev in under_test:
        node = history.nodes[rev]
        rec = steps_by_rev.get(rev, {})
        steps.append(
            StepResult(
                revision=rev,
                message=(node.doc or "").strip().splitlines()[0] if (node.doc or "").strip() else "",
                file=file_of[rev],
                status=rec.get("status", "not-run"),
                upgrade_s=rec.get("upgrade_s"),
                downgrade_s=rec.get("downgrade_s"),
                reupgrade_s=rec.get("reupgrade_s"),
                check_s=rec.get("check_s"),
                schema_changes=rec.get("schema_changes", []),
            )
        )
    return steps


Parts = tuple[list[Difference], list[DataLoss], list[LockTaken], list[Rewrite], list[DriftItem]]


def parsed(raw: dict[str, Any]) -> Parts:
    """The worker's differences, data losses, locks (the reported modes), rewrites and drift items."""
    differences = [Difference(**{k: d.get(k) for k in Difference.model_fields}) for d in raw.get("differences", [])]
    data_loss = [DataLoss(**{k: d.get(k) for k in DataLoss.model_fields}) for d in raw.get("data_loss", [])]
    locks = [
        LockTaken(
            revision=lk["revision"],
            relation=lk["relation"],
            kind=lk["kind"],
            table=lk["table"],
            mode=lk["mode"],
            sql_mode=LOCK_SQL_NAMES.get(lk["mode"], lk["mode"]),
            blocks=LOCK_BLOCKS.get(lk["mode"], "unknown"),
        )
        for lk in raw.get("locks", [])
        if lk["mode"] in _REPORTED_LOCKS
    ]
    rewrites = [Rewrite(**rw) for rw in raw.get("rewrites", [])]
    drift_raw = raw.get("drift") or {}
    drift = [DriftItem(**item) for item in drift_raw.get("items", [])]
    return differences, data_loss, locks, rewrites, drift


def seed_report(raw: dict[str, Any], seed_rows: int, data_from: DataFrom, findings: list[Finding]) -> SeedReport | None:
    """What was seeded (or copied); a finding per table left empty."""
    seed = None
    if raw.get("seed") is not None or data_from == "target" or raw.get("rows_at_start") is not None:
        seeded = raw.get("seed") or {}
        at_start = raw.get("rows_at_start") or {}
        seed = SeedReport(
            data_from=data_from,
            rows_per_table=seed_rows if data_from == "seed" else None,
            tables=seeded.get("tables", {}),
            skipped=seeded.get("skipped", {}),
            rows_copied=dict(at_start) if data_from == "target" else {},
            rows_at_start=sum(at_start.values()),
        )
        for table, reason in seed.skipped.items():
            findings.append(
                Finding(
                    rule="seed-skipped",
                    severity="info",
                    table=table,
                    message=f"Table {table} was not seeded: {reason}.",
                    why="Its data paths were rehearsed without rows.",
                    fix="Call again with data_from='target' to rehearse on real rows.",
                )
            )
    return seed


def schema_findings(
    under_test: list[str],
    differences: list[Difference],
    raw: dict[str, Any],
    file_of: dict[str, str],
    findings: list[Finding],
    escalations: list[Escalation],
) -> None:
    """A downgrade that does not restore the schema; a re-upgrade that differs from the upgrade."""
    steps_by_rev = {s["revision"]: s for s in raw.get("steps", [])}
    for rev in under_test:
        down = [d for d in differences if d.revision == rev and d.phase == "downgrade"]
        rec = steps_by_rev.get(rev, {})
        if down:
            empty = rec.get("downgrade_ops") == 0 and not rec.get("downgrade_sql")
            reason = (
                "downgrade() is empty: it undoes nothing of what upgrade() did"
                if empty
                else "downgrade() does not restore the schema that was there before upgrade()"
            )
            escalations.append(
                Escalation(
                    rule="unclear-rollback",
                    reason=f"{rev}: {reason}.",
                    evidence={"revision": rev, "differences": [d.message for d in down]},
                )
            )
            findings.append(
                Finding(
                    rule="empty-downgrade" if empty else "downgrade-incomplete",
                    severity="error",
                    file=file_of[rev],
                    message=f"{rev}: {reason}: {'; '.join(d.message for d in down[:8])}"
                    + (f" (+{len(down) - 8} more)" if len(down) > 8 else ""),
                    why="A rollback in production would leave a schema no revision describes.",
                    fix="Write downgrade() as the exact reverse of upgrade(): drop what it created, "
                    "re-create "
                    "what it dropped, with the same names, in reverse order.",
                )
            )
        reup = [d for d in differences if d.revision == rev and d.phase == "re-upgrade"]
        if reup:
            findings.append(
                Finding(
                    rule="reupgrade-differs",
                    severity="error",
                    file=file_of[rev],
                    message=f"{rev}: upgrading again after the downgrade gives a different schema: "
                    f"{'; '.join(d.message for d in reup[:8])}",
                    why="The downgrade leaves state behind that changes what the next upgrade produces.",
                    fix="Make downgrade() remove everything upgrade() creates.",
                )
            )


def data_loss_findings(
    under_test: list[str], data_loss: list[DataLoss], file_of: dict[str, str], findings: list[Finding]
) -> None:
    """Data a downgrade does not bring back (error) or drops with what the upgrade added (warning)."""
    for rev in under_test:
        lost = [d for d in data_loss if d.revision == rev]
        if not lost:
            continue
        not_restored = [d for d in lost if d.kind == "not-restored"]
        dropped = [d for d in lost if d.kind == "dropped-by-downgrade"]
        if not_restored:
            findings.append(
                _loss_finding(
                    "error",
                    file_of[rev],
                    not_restored,
                    f"{rev}: data present before the upgrade is not back after the downgrade",
                    "Rolling this revision back in production destroys these values for good.",
                    "Keep what upgrade() removes (copy the column/table aside in upgrade() and restore it in "
                    "downgrade()), or have a human accept that this revision is one-way.",
                )
            )
        if dropped:
            findings.append(
                _loss_finding(
                    "warning",
                    file_of[rev],
                    dropped,
                    f"{rev}: the downgrade drops data written after the upgrade",
                    "Values stored in what this revision adds are lost if it is rolled back after going live.",
                    "Before a rollback in production, back up these columns/tables (backup_db).",
                )
            )


def _loss_finding(severity: str, file: str | None, lost: list, head: str, why: str, fix: str) -> Finding:
    """One downgrade-loses-data finding over ``lost`` (its first table and column, six messages at most)."""
    return Finding(
        rule="downgrade-loses-data",
        severity=severity,
        file=file,
        table=lost[0].table,
        column=lost[0].column,
        message=f"{head}: {'; '.join(d.message for d in lost[:6])}.",
        why=why,
        fix=fix,
    )


LOCK_TIMEOUT_SET = re.compile(r"^[^#\n]*lock_timeout", re.M)


def env_sets_lock_timeout(project: Project) -> bool:
    """env.py sets lock_timeout (read as text, not imported)."""
    try:
        return bool(LOCK_TIMEOUT_SET.search((project.script_location / "env.py").read_text(encoding="utf-8")))
    except OSError:
        return False


def lock_timeout_set(project: Project, revision_file: str | None, env_sets: bool | None = None) -> bool:
    """env.py sets lock_timeout (``env_sets``: already read), or one covers every operation of the
    revision's upgrade() outside autocommit blocks (a SET LOCAL does not outlive a block's COMMIT). The
    revision is read through the serving process's parse cache (the history read it a moment ago)."""
    if env_sets if env_sets is not None else env_sets_lock_timeout(project):
        return True
    if revision_file is None:
        return False
    try:
        ops = parsed_file(project.root / revision_file).ops_in("upgrade")
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return False
    locking = [c for c in coverage(ops, literal_scopes) if not c.op.in_autocommit and not literal_scopes(c.op)]
    return bool(locking) and all(c.covered for c in locking)


def _lock_fix(already_set: bool) -> str:
    if already_set:
        return (
            "lock_timeout is already set, so waiting for this lock fails fast instead of queueing reads behind it; "
            "keep the step small (no rewrite or scan under this lock)."
        )
    return (
        "Set lock_timeout in the migration (op.execute(\"SET LOCAL lock_timeout = '5s'\") first in upgrade(), and "
        "again after each autocommit block: its COMMIT ends a SET LOCAL; inside a block, SET lock_timeout before "
        "the statement and RESET lock_timeout after it) and keep the step small."
    )


def lock_findings(
    project: Project, rewrites: list[Rewrite], locks: list[LockTaken], file_of: dict[str, str], findings: list[Finding]
) -> None:
    """Table rewrites, and locks that block writes or reads (PostgreSQL)."""
    env_sets = env_sets_lock_timeout(project) if locks else False
    for rw in rewrites:
        if rw.kind == "table":
            findings.append(
                Finding(
                    rule="table-rewrite",
                    severity="warning",
                    file=file_of.get(rw.revision),
                    table=rw.table,
                    message=f"{rw.revision}: the upgrade rewrites table {rw.table} (its relfilenode changed).",
                    why="A rewrite copies every row while holding ACCESS EXCLUSIVE: reads and writes wait, "
                    "for a time that grows with the table.",
                    fix="Avoid the rewrite: add a new column, backfill in batches, then swap; "
                    "or change types "
                    "in a binary-compatible way (varchar length up, int -> bigint via a new column).",
                )
            )
    for lk in locks:
        if lk.mode == "ShareLock" and lk.kind == "table":
            findings.append(
                Finding(
                    rule="lock-blocks-writes",
                    severity="warning",
                    file=file_of.get(lk.revision),
                    table=lk.table,
                    message=f"{lk.revision}: the upgrade holds a SHARE lock on {lk.table} (an index build): "
                    "writes wait until it commits.",
                    why="Building an index without CONCURRENTLY blocks INSERT/UPDATE/DELETE for the whole build.",
                    fix="with op.get_context().autocommit_block(): op.drop_index(<name>, table_name=..., "
                    "postgresql_concurrently=True, if_exists=True), then op.create_index(<name>, ..., "
                    "postgresql_concurrently=True) (a failed concurrent build leaves an INVALID index to drop first).",
                )
            )
        elif lk.mode == "AccessExclusiveLock" and lk.kind == "table":
            findings.append(
                Finding(
                    rule="lock-blocks-reads",
                    severity="info",
                    file=file_of.get(lk.revision),
                    table=lk.table,
                    message=f"{lk.revision}: the upgrade takes ACCESS EXCLUSIVE on {lk.table}: "
                    "reads and writes wait "
                    "until it commits.",
                    why="Brief for catalog-only changes; long if the step also rewrites or scans the table.",
                    fix=_lock_fix(lock_timeout_set(project, file_of.get(lk.revision), env_sets)),
                )
            )


def drift_findings(drift: list[DriftItem], drift_raw: dict[str, Any], findings: list[Finding]) -> None:
    """What the models declare that the migrations do not produce."""
    for item in drift:
        findings.append(
            Finding(
                rule="model-drift",
                severity="warning" if item.kind.startswith("modify_default") else "error",
                table=item.table,
                column=item.column,
                message=f"After the last revision, {item.message}.",
                why="The migrations do not produce what the models declare; the next autogenerate will pick it up.",
                fix="Call generate_migration to write the missing revision (or fix the model).",
            )
        )
    if drift_raw and not drift_raw.get("checked", True):
        findings.append(
            Finding(
                rule="drift-not-checked",
                severity="info",
                message=f"Models were not compared: {drift_raw.get('reason')}.",
            )
        )


def env_error_findings(project: Project, raw: dict[str, Any], findings: list[Finding]) -> None:
    if raw.get("env_error"):
        err = raw["env_error"]
        findings.append(
            Finding(
                rule="env-py-error",
                severity="error",
                message=f"env.py raised {err.get('type')}: {err.get('message')}",
                file=project.relative(err["file"]) if err.get("file") else None,
                line=err.get("line"),
                why="No migration can run until env.py works.",
                fix="Fix env.py at the given line.",
            )
        )
