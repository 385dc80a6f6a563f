"""``list_backups``: the complete backups in the backup directory, newest first, with what each holds,
whether its archive is intact, and the newest backup of the configured database. Read-only."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from alembic_mcp.tools.backup.manifest import Listing, Manifest, format_time, read_backups, utc_now
from alembic_mcp.tools.backup.tool import display_path
from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.progress import Progress, no_progress
from alembic_mcp.tools.core.verdict import Finding, VerdictResult


class BackupEntry(BaseModel):
    backup_id: str
    created_at: str
    age_hours: float
    expires_at: str | None = Field(description="When retention prunes it (after the next backup); null: kept.")
    label: str | None
    database: str
    backend: str
    revisions: list[str] | None
    total_rows: int
    tables: dict[str, int]
    size_bytes: int
    sha256: str
    file: str
    intact: bool = Field(description="The archive exists with the size the manifest records.")
    verified: str = Field(description="How it was verified when taken: 'list ok', 'restore ok' or failed.")
    restore_command: str


class ListBackupsResult(VerdictResult):
    backup_dir: str
    retention_days: int
    backups: list[BackupEntry] = Field(default_factory=list, description="Complete backups, newest first.")
    latest_for_target: str | None = Field(
        default=None, description="Newest backup of the currently configured database, if any."
    )
    latest_age_hours: float | None = None


async def list_backups(project: Project, progress: Progress = no_progress) -> ListBackupsResult:
    """Every complete backup, newest first, each checked against its manifest; read-only."""
    listing = read_backups(project.backup_dir)
    now = utc_now()
    entries = [_entry(project, manifest, now) for manifest in listing.manifests]
    target = project.masked_database_url
    latest = next((e for e in entries if e.database == target and e.intact), None)
    return ListBackupsResult(
        backup_dir=display_path(project, project.backup_dir),
        retention_days=project.settings.backup_retention_days,
        backups=entries,
        latest_for_target=latest.backup_id if latest else None,
        latest_age_hours=latest.age_hours if latest else None,
        findings=_damage_findings(entries) + _listing_findings(project, listing),
        summary=_summary(project, entries, target, latest),
        next_steps=[_next_step(latest)],
    )


def _entry(project: Project, manifest: Manifest, now: datetime) -> BackupEntry:
    archive = project.backup_dir / manifest.file
    try:
        intact = archive.stat().st_size == manifest.size_bytes
    except OSError:
        intact = False
    created: datetime = manifest.created()
    retention = project.settings.backup_retention_days
    return BackupEntry(
        backup_id=manifest.backup_id,
        created_at=manifest.created_at,
        age_hours=round((now - created).total_seconds() / 3600, 2),
        expires_at=format_time(created + timedelta(days=retention)) if retention > 0 else None,
        label=manifest.label,
        database=manifest.database,
        backend=manifest.backend,
        revisions=manifest.revisions,
        total_rows=manifest.total_rows,
        tables=manifest.tables,
        size_bytes=manifest.size_bytes,
        sha256=manifest.sha256,
        file=display_path(project, archive),
        intact=intact,
        verified=f"{manifest.verification.mode} {'ok' if manifest.verification.ok else 'failed'}",
        restore_command=manifest.restore_command,
    )


def _damage_findings(entries: list[BackupEntry]) -> list[Finding]:
    return [
        Finding(
            rule="backup-damaged",
            severity="error",
            message=f"Backup {entry.backup_id}: the archive size differs from its manifest (truncated or replaced).",
            file=entry.file,
            why="Restoring it would fail or restore the wrong data.",
            fix="Take a new backup with backup_db; delete the damaged archive and its manifest.",
        )
        for entry in entries
        if not entry.intact
    ]


def _listing_findings(project: Project, listing: Listing) -> list[Finding]:
    """What the backup directory holds besides complete backups: orphans, unreadable and unfinished files."""
    findings = [
        Finding(
            rule="backup-archive-missing",
            severity="warning",
            message=f"Backup {backup_id} has a manifest but its archive is gone; not listed.",
            fix=f"Delete {backup_id}.json from {display_path(project, project.backup_dir)}.",
        )
        for backup_id in listing.missing_archives
    ]
    findings += [
        Finding(rule="backup-manifest-unreadable", severity="warning", message=f"Unreadable manifest, not listed: {p}")
        for p in listing.problems
    ]
    if listing.in_progress:
        findings.append(
            Finding(
                rule="backup-in-progress",
                severity="info",
                message=f"{len(listing.in_progress)} backup(s) in progress (temp files, not listed).",
            )
        )
    return findings


def _summary(project: Project, entries: list[BackupEntry], target: str | None, latest: BackupEntry | None) -> str:
    if not entries:
        summary = f"No backups in {display_path(project, project.backup_dir)}."
    else:
        summary = f"{len(entries)} backup(s); newest {entries[0].backup_id} ({entries[0].age_hours:g} h old)."
    if target:
        summary += (
            f" Newest of the configured database: {latest.backup_id} ({latest.age_hours:g} h old)."
            if latest
            else " None of the configured database."
        )
    return summary


def _next_step(latest: BackupEntry | None) -> str:
    if latest is None:
        return "Call backup_db before running any risky migration against the configured database."
    if latest.age_hours > 24:
        return (
            f"The newest backup of the configured database is {latest.age_hours:g} h old; call "
            "backup_db for a fresh one before a risky migration."
        )
    return f"Cite backup {latest.backup_id} in the migration plan; restore with its restore_command."
