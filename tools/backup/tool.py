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
from pathlib import Path
from typing import Literal

import anyio
import asyncpg
from pydantic import Field
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from alembic_mcp.tools.backup.dump_commands import BackupFailed, restore_command
from alembic_mcp.tools.backup.engines import ENGINES
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


async def backup_db(
    project: Project,
    label: str | None = None,
    verify: str = "list",
    tables: list[str] | None = None,
    progress: Progress = no_progress,
    timeout_s: float | None = None,
) -> BackupResult:
    started = time.monotonic()
    refuse_if_read_only(project, "write backups", "Run backup-db from a server or CLI that is not read-only.")
    label = validate_label(label)
    mode = _validate_verify(verify)
    if tables is not None and not isinstance(tables, list):
        raise InvalidArgument('tables must be a list of table names, e.g. ["residents"], or omitted.')
    url, backend = _target(project)
    timeout = float(timeout_s or project.settings.backup_timeout_s)
    backup_dir = project.backup_dir
    ensure_backup_dir(backup_dir)
    sweep_partials(backup_dir)
    created = utc_now()
    backup_id = new_backup_id(created, label)
    temp = partial_path(backup_dir, backup_id, EXTENSIONS[backend])
    final = backup_dir / f"{backup_id}{EXTENSIONS[backend]}"
    masked = mask_url(url)
    production = is_production(url, project.settings.environment, project.settings.production_hosts)

    await progress(0, STEPS, f"connecting to {masked}")
    last_size = 0

    async def poll() -> None:
        nonlocal last_size
        try:
            size = temp.stat().st_size
        except FileNotFoundError:
            return
        if size > last_size:
            last_size = size
            await progress(
                1 + size / (size + PROGRESS_SCALE_BYTES),
                STEPS,
                f"dumping {masked}: {size / 1e6:.1f} MB written",
            )

    try:
        with anyio.move_on_after(timeout) as scope:
            try:
                dumped = await ENGINES[backend](
                    url,
                    temp,
                    tables,
                    timeout_s=timeout,
                    poll=poll,
                    version_table=project.settings.version_table,
                    version_schema=project.settings.version_table_schema,
                )
            except DRIVER_ERRORS as exc:  # a driver error mid-way (locked, permission denied, disk full)
                raise BackupFailed(
                    f"The backup of {masked} failed: {redact(str(exc), url)}. Nothing was kept."
                ) from None
        if scope.cancelled_caught:
            raise BackupFailed(
                f"The backup of {masked} did not finish within {timeout:g} s and was stopped; nothing was "
                "kept. Raise backup_timeout_s ([tool.alembic-mcp] or ALEMBIC_MCP_BACKUP_TIMEOUT_S), or look "
                "for a long-held lock on the tables."
            )
        if not temp.is_file() or temp.stat().st_size == 0:
            raise BackupFailed(f"The dump of {masked} produced no file; nothing was kept.")
        size = temp.stat().st_size
        await progress(2, STEPS, f"dump done ({size / 1e6:.1f} MB); verifying ({mode})")
        digest = await anyio.to_thread.run_sync(sha256_of, temp)
        try:
            if mode == "list":
                check = await verify_list(backend, temp, dumped.counts, timeout)
            else:
                check = await verify_restore(
                    backend,
                    temp,
                    url,
                    project.settings.scratch_url,
                    dumped.counts,
                    timeout,
                    partial=dumped.selected is not None,
                )
        except (AlembicMcpError, *DRIVER_ERRORS) as exc:  # e.g. the scratch server is unreachable
            check = Verification(mode=mode, ok=False, detail=f"Verification failed: {redact(str(exc), url)}")
        if not check.ok:
            _discard(temp)
            return _failed_verification(project, backend, masked, label, check, production, started)
        await progress(3, STEPS, "publishing the backup and its manifest")
        manifest = Manifest(
            backup_id=backup_id,
            created_at=format_time(created),
            label=label,
            backend=backend,
            database=masked,
            revisions=dumped.revisions,
            tables=dumped.counts,
            tables_restricted=dumped.selected,
            counts_source=dumped.counts_source,
            file=final.name,
            format=FORMATS[backend],
            size_bytes=size,
            sha256=digest,
            tool_versions=dumped.tool_versions,
            duration_s=round(time.monotonic() - started, 3),
            verification=check,
            restore_command=restore_command(backend, url, final),
        )
        async with project_lock(project.state_dir):
            publish_archive(temp, final)
            try:
                manifest_path = write_manifest(backup_dir, manifest)
            except BaseException:
                _discard(final)  # an archive without its manifest must not linger
                raise
            pruned = prune(backup_dir, project.settings.backup_retention_days, utc_now(), keep=backup_id)
    except BaseException:
        _discard(temp)
        raise
    await progress(STEPS, STEPS, f"backup {backup_id} written")
    return _success(project, manifest, final, manifest_path, [p.backup_id for p in pruned], production, url, started)


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
    next_steps = [f"Cite backup_id {manifest.backup_id} in the migration plan; to restore: {manifest.restore_command}"]
    if url.password:
        next_steps.append(
            "The restore command takes the password from PGPASSWORD/MYSQL_PWD or a password "
            "file (~/.pgpass, ~/.my.cnf); it is never stored with the backup."
        )
    if production:
        next_steps.insert(0, "Stop: show the escalation to a human and wait for approval before migrating.")
    else:
        next_steps.append("Go on with the migration (test_roundtrip first if not done).")
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
    if mode == "list":
        check = await verify_list(manifest.backend, archive, manifest.tables, timeout)
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
