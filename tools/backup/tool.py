"""``backup_db`` (a verified, restorable backup of the target database, with a manifest) and
``verify_backup``, which re-checks a published backup (sha256 and archive). ``list_backups`` lives in
``list_backups.py``.

The dump goes to a ``.partial-`` temp file, is verified, and only then is renamed into the backup
directory under the project lock, followed by its manifest; old backups are pruned afterwards. Any
failure, timeout or cancellation deletes the temp file, so nothing half-written is ever listed.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import anyio
import asyncpg
from pydantic import Field
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from alembic_mcp.tools.backup.dump_commands import BackupFailed, restore_command
from alembic_mcp.tools.backup.engines import ENGINES, DumpOutcome
from alembic_mcp.tools.backup.manifest import (
    EXTENSIONS,
    FORMATS,
    Manifest,
    Verification,
    ensure_backup_dir,
    find_backup,
    format_time,
    new_backup_id,
    partial_path,
    prune,
    publish_archive,
    sha256_of,
    sweep_partials,
    utc_now,
    validate_label,
    write_manifest,
)
from alembic_mcp.tools.backup.verify import verify_list, verify_restore
from alembic_mcp.tools.core.access import refuse_if_read_only
from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import AlembicMcpError, InvalidArgument, ProjectError
from alembic_mcp.tools.core.locking import project_lock
from alembic_mcp.tools.core.policy import is_production
from alembic_mcp.tools.core.progress import Progress, no_progress
from alembic_mcp.tools.core.urls import backend_of, mask_url, redact
from alembic_mcp.tools.core.verdict import Escalation, Finding, VerdictResult

DRIVER_ERRORS = (SQLAlchemyError, asyncpg.PostgresError, sqlite3.Error, OSError)
VerifyMode = Literal["list", "restore"]
STEPS = 4
PROGRESS_SCALE_BYTES = 8 << 20


class BackupResult(VerdictResult):
    backup_id: str | None = Field(description="Handle of the new backup (cite it later); null if none was kept.")
    created_at: str | None = Field(default=None, description="UTC, when the dump started.")
    label: str | None = None
    database: str = Field(description="The backed-up database, password masked.")
    backend: str
    file: str | None = Field(default=None, description="The archive, relative to the project when inside it.")
    manifest_file: str | None = None
    size_bytes: int = 0
    sha256: str | None = None
    revisions: list[str] | None = Field(default=None, description="Alembic revision(s) at backup time.")
    tables: dict[str, int] = Field(default_factory=dict, description="Rows per table in the backup.")
    total_rows: int = 0
    verified: bool = Field(description="True when the verification passed.")
    verification: Verification
    restore_command: str | None = Field(default=None, description="Exact shell command restoring this backup.")
    pruned: list[str] = Field(default_factory=list, description="Backup ids deleted by the retention policy.")
    production: bool = False
    duration_s: float = 0.0


def display_path(project: Project, path: Path) -> str:
    return project.relative(path)


def _target(project: Project) -> tuple[URL, str]:
    url = project.database_url
    if url is None:
        raise ProjectError(
            "No target database configured: set sqlalchemy.url in alembic.ini, $DATABASE_URL, the "
            "database_url setting, or pass --database-url."
        )
    backend = backend_of(url)
    if backend not in ENGINES:
        raise ProjectError(f"backup_db supports PostgreSQL, MariaDB/MySQL and SQLite, not {backend!r}.")
    return url, backend


def _validate_verify(verify: str) -> VerifyMode:
    if verify not in ("list", "restore"):
        raise InvalidArgument(
            f"verify must be 'list' (check the archive is readable) or 'restore' (restore into a scratch "
            f"database and compare row counts); got {verify!r}."
        )
    return verify  # type: ignore[return-value]


@dataclass
class _BackupPlan:
    """Everything one backup_db call decided before the dump starts."""

    url: URL
    backend: str
    masked: str
    label: str | None
    mode: VerifyMode
    tables: list[str] | None
    timeout: float
    backup_id: str
    created: datetime
    temp: Path
    final: Path
    production: bool
    started: float


async def backup_db(
    project: Project,
    label: str | None = None,
    verify: str = "list",
    tables: list[str] | None = None,
    progress: Progress = no_progress,
    timeout_s: float | None = None,
) -> BackupResult:
    """Dump the target to a temp file, verify it, then publish it with its manifest (under the lock)."""
    plan = _plan(project, label, verify, tables, timeout_s)
    await progress(0, STEPS, f"connecting to {plan.masked}")
    try:
        dumped = await _dump(project, plan, progress)
        check, size, digest = await _verify(project, plan, dumped, progress)
        if not check.ok:
            _discard(plan.temp)
            return _failed_verification(
                project, plan.backend, plan.masked, plan.label, check, plan.production, plan.started
            )
        await progress(3, STEPS, "publishing the backup and its manifest")
        manifest = _manifest(plan, dumped, check, size, digest)
        manifest_path, pruned = await _publish(project, plan, manifest)
    except BaseException:
        _discard(plan.temp)
        raise
    await progress(STEPS, STEPS, f"backup {plan.backup_id} written")
    return _success(project, manifest, plan.final, manifest_path, pruned, plan.production, plan.url, plan.started)


def _plan(
    project: Project, label: str | None, verify: str, tables: list[str] | None, timeout_s: float | None
) -> _BackupPlan:
    """Validate the arguments, sweep dead temp files and name the new backup."""
    started = time.monotonic()
    refuse_if_read_only(project, "write backups", "Run backup-db from a server or CLI that is not read-only.")
    label = validate_label(label)
    mode = _validate_verify(verify)
    if tables is not None and not isinstance(tables, list):
        raise InvalidArgument('tables must be a list of table names, e.g. ["residents"], or omitted.')
    url, backend = _target(project)
    backup_dir = project.backup_dir
    ensure_backup_dir(backup_dir)
    sweep_partials(backup_dir)
    created = utc_now()
    backup_id = new_backup_id(created, label)
    return _BackupPlan(
        url=url,
        backend=backend,
        masked=mask_url(url),
        label=label,
        mode=mode,
        tables=tables,
        timeout=float(timeout_s or project.settings.backup_timeout_s),
        backup_id=backup_id,
        created=created,
        temp=partial_path(backup_dir, backup_id, EXTENSIONS[backend]),
        final=backup_dir / f"{backup_id}{EXTENSIONS[backend]}",
        production=is_production(url, project.settings.environment, project.settings.production_hosts),
        started=started,
    )


async def _dump(project: Project, plan: _BackupPlan, progress: Progress) -> DumpOutcome:
    """Run the backend's dump into the temp file, reporting its growing size; a timeout keeps nothing."""
    poll = _size_poller(plan, progress)
    with anyio.move_on_after(plan.timeout) as scope:
        try:
            dumped = await ENGINES[plan.backend](
                plan.url,
                plan.temp,
                plan.tables,
                timeout_s=plan.timeout,
                poll=poll,
                version_table=project.settings.version_table,
                version_schema=project.settings.version_table_schema,
            )
        except DRIVER_ERRORS as exc:  # a driver error mid-way (locked, permission denied, disk full)
            raise BackupFailed(
                f"The backup of {plan.masked} failed: {redact(str(exc), plan.url)}. Nothing was kept."
            ) from None
    if scope.cancelled_caught:
        raise BackupFailed(
            f"The backup of {plan.masked} did not finish within {plan.timeout:g} s and was stopped; nothing "
            "was kept. Raise backup_timeout_s ([tool.alembic-mcp] or ALEMBIC_MCP_BACKUP_TIMEOUT_S), or look "
            "for a long-held lock on the tables."
        )
    if not plan.temp.is_file() or plan.temp.stat().st_size == 0:
        raise BackupFailed(f"The dump of {plan.masked} produced no file; nothing was kept.")
    return dumped


def _size_poller(plan: _BackupPlan, progress: Progress) -> Callable[[], Awaitable[None]]:
    """A progress callback for the dump engines: the temp file's size whenever it grew."""
    last_size = 0

    async def poll() -> None:
        nonlocal last_size
        try:
            size = plan.temp.stat().st_size
        except FileNotFoundError:
            return
        if size > last_size:
            last_size = size
            message = f"dumping {plan.masked}: {size / 1e6:.1f} MB written"
            await progress(1 + size / (size + PROGRESS_SCALE_BYTES), STEPS, message)

    return poll


def restore_refused(project: Project, backend: str, url: Any) -> str | None:
    """Why a restore check must not run: on a production target with no scratch_url it would restore a full
    copy of production onto the production server (the load test_roundtrip's data_from='target' asks a
    human about). SQLite restores into a temp file: allowed."""
    settings = project.settings
    if (
        backend == "sqlite"
        or settings.scratch_url
        or not is_production(url, settings.environment, settings.production_hosts)
    ):
        return None
    return (
        "Restore check not run: the target is production and no scratch_url is set, so the restore would load "
        "the production server; the archive was listed instead (set scratch_url to a non-production server "
        "to verify by restore)."
    )


async def _verify(
    project: Project, plan: _BackupPlan, dumped: DumpOutcome, progress: Progress
) -> tuple[Verification, int, str]:
    """List or restore the archive; a verification that cannot run counts as failed, not as an error."""
    size = plan.temp.stat().st_size
    await progress(2, STEPS, f"dump done ({size / 1e6:.1f} MB); verifying ({plan.mode})")
    digest = await anyio.to_thread.run_sync(sha256_of, plan.temp)
    refused = restore_refused(project, plan.backend, plan.url) if plan.mode == "restore" else None
    try:
        if plan.mode == "list" or refused:
            check = await verify_list(plan.backend, plan.temp, dumped.counts, plan.timeout)
            check.detail = f"{refused} {check.detail}" if refused else check.detail
        else:
            check = await verify_restore(
                plan.backend,
                plan.temp,
                plan.url,
                project.settings.scratch_url,
                dumped.counts,
                plan.timeout,
                partial=dumped.selected is not None,
            )
    except (AlembicMcpError, *DRIVER_ERRORS) as exc:  # e.g. the scratch server is unreachable
        detail = f"Verification failed: {redact(str(exc), plan.url)}"
        check = Verification(mode=plan.mode, ok=False, detail=detail)
    return check, size, digest


def _manifest(plan: _BackupPlan, dumped: DumpOutcome, check: Verification, size: int, digest: str) -> Manifest:
    return Manifest(
        backup_id=plan.backup_id,
        created_at=format_time(plan.created),
        label=plan.label,
        backend=plan.backend,
        database=plan.masked,
        revisions=dumped.revisions,
        tables=dumped.counts,
        tables_restricted=dumped.selected,
        counts_source=dumped.counts_source,
        file=plan.final.name,
        format=FORMATS[plan.backend],
        size_bytes=size,
        sha256=digest,
        tool_versions=dumped.tool_versions,
        duration_s=round(time.monotonic() - plan.started, 3),
        verification=check,
        restore_command=restore_command(plan.backend, plan.url, plan.final),
    )


async def _publish(project: Project, plan: _BackupPlan, manifest: Manifest) -> tuple[Path, list[str]]:
    """Rename the archive into place and write its manifest under the project lock; then prune."""
    async with project_lock(project.state_dir):
        publish_archive(plan.temp, plan.final)
        try:
            manifest_path = write_manifest(project.backup_dir, manifest)
        except BaseException:
            _discard(plan.final)  # an archive without its manifest must not linger
            raise
        retention = project.settings.backup_retention_days
        pruned = prune(project.backup_dir, retention, utc_now(), keep=plan.backup_id)
    return manifest_path, [entry.backup_id for entry in pruned]


def _discard(temp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()


def _production_escalation(masked: str, project: Project) -> Escalation:
    why = (
        f"environment = {project.settings.environment!r}"
        if project.settings.environment
        else "the host matches production_hosts"
    )
    return Escalation(
        rule="production-database",
        reason=f"The target {masked} is classified production ({why}). The backup is taken, but running a "
        "migration against it needs a human's approval.",
        evidence={
            "database": masked,
            "environment": project.settings.environment,
            "production_hosts": list(project.settings.production_hosts),
        },
    )


def _success(
    project: Project,
    manifest: Manifest,
    final: Path,
    manifest_path: Path,
    pruned: list[str],
    production: bool,
    url: URL,
    started: float,
) -> BackupResult:
    findings: list[Finding] = []
    if manifest.revisions is None:
        findings.append(
            Finding(
                rule="no-alembic-version",
                severity="info",
                message="The database has no Alembic version table: the backup records no revision.",
                why="After a restore you cannot tell which migrations the data matches.",
                fix="Run `alembic stamp <revision>` once the schema matches a revision.",
            )
        )
    if pruned:
        findings.append(
            Finding(
                rule="backups-pruned",
                severity="info",
                message=f"Retention ({project.settings.backup_retention_days} days) deleted "
                f"{len(pruned)} old backup(s): {', '.join(pruned)}.",
            )
        )
    escalations = [_production_escalation(manifest.database, project)] if production else []
    rows = manifest.total_rows
    table_word = "table" if len(manifest.tables) == 1 else "tables"
    summary = (
        f"Backup {manifest.backup_id} of {manifest.database}: {len(manifest.tables)} {table_word}, "
        f"{rows} rows, {manifest.size_bytes / 1e6:.1f} MB, verified ({manifest.verification.mode})."
    )
    if production:
        summary += " The target is production: a human must approve any migration."
    next_steps = [
        f"Cite backup_id {manifest.backup_id} in the migration plan; to restore: {manifest.restore_command} "
        "(a human's step: it puts back the backed-up tables as they were, so every write made to them since "
        "the backup is lost)."
    ]
    if manifest.backend == "postgresql" and manifest.revisions:
        next_steps.append(
            "After a migration, first bring the schema back to the backup's revision "
            f"({', '.join(manifest.revisions)}) with alembic downgrade: objects a migration added that depend on "
            "these tables make the restore's drops fail, and its single transaction then changes nothing."
        )
    if url.password:
        next_steps.append(
            "The restore command takes the password from PGPASSWORD/MYSQL_PWD or a password "
            "file (~/.pgpass, ~/.my.cnf); it is never stored with the backup."
        )
    if production:
        next_steps.insert(0, "Stop: show the escalation to a human and wait for approval before migrating.")
    else:
        next_steps.append(
            "Go on with the workflow: test_roundtrip if not done; an open escalation still waits for a human."
        )
    return BackupResult(
        backup_id=manifest.backup_id,
        created_at=manifest.created_at,
        label=manifest.label,
        database=manifest.database,
        backend=manifest.backend,
        file=display_path(project, final),
        manifest_file=display_path(project, manifest_path),
        size_bytes=manifest.size_bytes,
        sha256=manifest.sha256,
        revisions=manifest.revisions,
        tables=manifest.tables,
        total_rows=rows,
        verified=True,
        verification=manifest.verification,
        restore_command=manifest.restore_command,
        pruned=pruned,
        production=production,
        duration_s=round(time.monotonic() - started, 3),
        findings=findings,
        escalations=escalations,
        summary=summary,
        next_steps=next_steps,
    )


def _failed_verification(
    project: Project,
    backend: str,
    masked: str,
    label: str | None,
    check: Verification,
    production: bool,
    started: float,
) -> BackupResult:
    finding = Finding(
        rule="backup-verification-failed",
        severity="error",
        message=f"The new backup failed its {check.mode} verification and was discarded: {check.detail}",
        why="An unverified backup cannot be relied on before a risky migration.",
        fix="Call backup_db again; if it fails again, check the dump tools' versions and disk space "
        "(verify='restore' shows which tables differ).",
    )
    escalations = [_production_escalation(masked, project)] if production else []
    return BackupResult(
        backup_id=None,
        label=label,
        database=masked,
        backend=backend,
        verified=False,
        verification=check,
        production=production,
        duration_s=round(time.monotonic() - started, 3),
        findings=[finding],
        escalations=escalations,
        summary=f"The backup of {masked} failed verification; nothing was kept.",
        next_steps=[
            "Do not run the migration without a verified backup.",
            f"backup-verification-failed: {finding.fix}",
        ],
    )


async def verify_backup(
    project: Project, backup_id: str, verify: str = "list", timeout_s: float | None = None
) -> Verification:
    """Re-check a published backup: size and sha256 against the manifest, then list or restore."""
    mode = _validate_verify(verify)
    manifest = find_backup(project.backup_dir, backup_id)
    archive = project.backup_dir / manifest.file
    timeout = float(timeout_s or project.settings.backup_timeout_s)
    size = archive.stat().st_size
    if size != manifest.size_bytes:
        return Verification(
            mode=mode,
            ok=False,
            detail=f"The archive is {size} bytes; the manifest says "
            f"{manifest.size_bytes}: it was truncated or replaced.",
        )
    digest = await anyio.to_thread.run_sync(sha256_of, archive)
    if digest != manifest.sha256:
        return Verification(
            mode=mode,
            ok=False,
            detail=f"sha256 {digest} differs from the manifest's "
            f"{manifest.sha256}: the archive was changed or corrupted.",
        )
    refused = restore_refused(project, manifest.backend, _target(project)[0]) if mode == "restore" else None
    if mode == "list" or refused:
        check = await verify_list(manifest.backend, archive, manifest.tables, timeout)
        check.detail = f"{refused} {check.detail}" if refused else check.detail
    else:
        url, backend = _target(project)
        if backend != manifest.backend:
            raise InvalidArgument(
                f"Backup {backup_id} is a {manifest.backend} backup; the configured database "
                f"is {backend}. A restore check needs a {manifest.backend} server."
            )
        check = await verify_restore(
            backend,
            archive,
            url,
            project.settings.scratch_url,
            manifest.tables,
            timeout,
            partial=manifest.tables_restricted is not None,
        )
    if check.ok:
        check.detail = "sha256 matches the manifest. " + check.detail
    return check
