"""Backup files on disk: ids, labels, the manifest model, atomic writes, listing and pruning.

Layout of the backup directory::

    <id>.dump | <id>.sql | <id>.sqlite   the archive (pg_dump custom, SQL, SQLite database)
    <id>.json                            its manifest, written last
    .partial-<id>-<pid>.*                a backup in progress (never listed; swept when its process died)

A backup is listed only when its manifest parses and its archive exists: the archive is renamed into
place first, the manifest last, both atomically (temp file, fsync, rename, fsync of the folder).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from alembic_mcp.tools.core.errors import InvalidArgument

MANIFEST_VERSION = 1
MAX_LABEL = 64
PARTIAL_PREFIX = ".partial-"
EXTENSIONS = {"postgresql": ".dump", "mysql": ".sql", "sqlite": ".sqlite"}
FORMATS = {"postgresql": "pg_dump-custom", "mysql": "sql", "sqlite": "sqlite-database"}
ID_PATTERN = re.compile(r"^(\d{8}T\d{6}Z)-([0-9a-f]{8})(?:-([A-Za-z0-9][A-Za-z0-9._-]*))?$")
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PARTIAL_PID = re.compile(r"^\.partial-.+-(\d+)\.[a-z]+$")


class Verification(BaseModel):
    mode: Literal["list", "restore"]
    ok: bool
    detail: str = Field(description="What was checked and what it showed.")
    mismatches: list[str] = Field(
        default_factory=list, description="Tables whose restored row count differs from the manifest."
    )


class Manifest(BaseModel):
    """What a backup holds, written beside the archive as ``<backup_id>.json``."""

    manifest_version: int = MANIFEST_VERSION
    backup_id: str
    created_at: str = Field(description="UTC, ISO 8601, when the dump started.")
    label: str | None = None
    backend: Literal["postgresql", "mysql", "sqlite"]
    database: str = Field(description="The backed-up database, password masked.")
    revisions: list[str] | None = Field(
        description="Alembic revision(s) in the version table at dump time; null when it had none."
    )
    tables: dict[str, int] = Field(description="Rows per table in the archive.")
    tables_restricted: list[str] | None = Field(
        default=None, description="The tables the dump was restricted to; null for the whole database."
    )
    counts_source: str = Field(description="How the row counts were taken (same snapshot as the dump, ...).")
    file: str = Field(description="Archive file name, inside the backup directory.")
    format: str
    size_bytes: int
    sha256: str
    tool_versions: dict[str, str] = Field(default_factory=dict)
    duration_s: float
    verification: Verification
    restore_command: str = Field(description="Shell command restoring this archive into the same database.")

    @property
    def total_rows(self) -> int:
        return sum(self.tables.values())

    def created(self) -> datetime:
        return parse_time(self.created_at)


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def validate_label(label: str | None) -> str | None:
    """A label becomes part of file names: letters, digits, ``.``, ``_`` and ``-`` only."""
    if label is None:
        return None
    if not isinstance(label, str):
        raise InvalidArgument("label must be a string such as 'before-drop-legacy-users', or omitted.")
    stripped = label.strip()
    if not stripped:
        return None
    if len(stripped) > MAX_LABEL:
        raise InvalidArgument(f"label is {len(stripped)} characters long; keep it at most {MAX_LABEL}.")
    separators = sorted({ch for ch in stripped if ch in "/\\"}) + (["'..'"] if ".." in stripped else [])
    others = sorted({ch for ch in stripped if ch not in "/\\" and not (ch.isascii() and (ch.isalnum() or ch in "._-"))})
    problems = []
    if separators:
        problems.append("a path separator (" + ", ".join(c if c == "'..'" else repr(c) for c in separators) + ")")
    if others:
        problems.append("characters that are not allowed (" + ", ".join(repr(c) for c in others) + ")")
    if not problems and not LABEL_PATTERN.match(stripped):
        problems.append(f"a first character that is not allowed ({stripped[0]!r})")
    if problems:
        raise InvalidArgument(
            f"label {stripped!r} contains {' and '.join(problems)}; labels become file names and appear in "
            "shell commands. Use letters, digits, '.', '_' and '-' only, starting with a letter or digit, "
            "e.g. 'before-drop-legacy-users'."
        )
    return stripped


def new_backup_id(moment: datetime, label: str | None) -> str:
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}" + (f"-{label}" if label else "")


def partial_path(backup_dir: Path, backup_id: str, suffix: str) -> Path:
    return backup_dir / f"{PARTIAL_PREFIX}{backup_id}-{os.getpid()}{suffix}"


def ensure_backup_dir(backup_dir: Path) -> None:
    """Create the folder (and a ``.gitignore`` so dumps never land in git)."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    ignore = backup_dir / ".gitignore"
    if not ignore.exists():
        with contextlib.suppress(OSError):
            ignore.write_text("# alembic-mcp backups: never commit database dumps\n*\n")


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def publish_archive(temp: Path, final: Path) -> None:
    """fsync the finished temp file and rename it into place (atomic on one file system)."""
    fsync_file(temp)
    os.replace(temp, final)
    fsync_dir(final.parent)


def write_manifest(backup_dir: Path, manifest: Manifest) -> Path:
    final = backup_dir / f"{manifest.backup_id}.json"
    temp = partial_path(backup_dir, manifest.backup_id, ".json")
    try:
        with temp.open("w", encoding="utf-8") as fh:
            fh.write(manifest.model_dump_json(indent=2))
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(backup_dir)
    return final


class Listing(BaseModel):
    manifests: list[Manifest]
    problems: list[str] = Field(default_factory=list, description="Manifests that could not be read.")
    missing_archives: list[str] = Field(default_factory=list)
    in_progress: list[str] = Field(default_factory=list)


def read_backups(backup_dir: Path) -> Listing:
    """Complete backups, newest first: a readable manifest whose archive exists."""
    listing = Listing(manifests=[])
    if not backup_dir.is_dir():
        return listing
    for path in sorted(backup_dir.iterdir()):
        if path.name.startswith(PARTIAL_PREFIX):
            listing.in_progress.append(path.name)
            continue
        if path.suffix != ".json" or not ID_PATTERN.match(path.stem):
            continue
        try:
            manifest = Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationError) as exc:
            listing.problems.append(f"{path.name}: {str(exc).splitlines()[0]}")
            continue
        if manifest.backup_id != path.stem or Path(manifest.file).name != manifest.file:
            listing.problems.append(f"{path.name}: backup_id or file name does not match the manifest's name")
            continue
        if not (backup_dir / manifest.file).is_file():
            listing.missing_archives.append(manifest.backup_id)
            continue
        listing.manifests.append(manifest)
    listing.manifests.sort(key=lambda m: (m.created_at, m.backup_id), reverse=True)
    return listing


def find_backup(backup_dir: Path, backup_id: str) -> Manifest:
    if not isinstance(backup_id, str) or not ID_PATTERN.match(backup_id):
        raise InvalidArgument(f"{backup_id!r} is not a backup id; list_backups shows the ids.")
    for manifest in read_backups(backup_dir).manifests:
        if manifest.backup_id == backup_id:
            return manifest
    raise InvalidArgument(f"No complete backup {backup_id!r} in {backup_dir}; list_backups shows the ids.")


def remove_backup(backup_dir: Path, manifest: Manifest) -> None:
    """Delete the manifest first (so it stops being listed), then the archive."""
    with contextlib.suppress(FileNotFoundError):
        (backup_dir / f"{manifest.backup_id}.json").unlink()
    with contextlib.suppress(FileNotFoundError):
        (backup_dir / manifest.file).unlink()


def prune(backup_dir: Path, retention_days: int, now: datetime, keep: str) -> list[Manifest]:
    """Delete backups created more than ``retention_days`` before ``now`` (0: keep everything).
    The backup ``keep`` (the one just made) is never pruned."""
    if retention_days <= 0:
        return []
    cutoff = now - timedelta(days=retention_days)
    pruned = []
    for manifest in read_backups(backup_dir).manifests:
        if manifest.backup_id != keep and manifest.created() < cutoff:
            remove_backup(backup_dir, manifest)
            pruned.append(manifest)
    return pruned


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_partials(backup_dir: Path) -> list[str]:
    """Remove temp files left by backup processes that died (a SIGKILLed server, a power cut)."""
    removed: list[str] = []
    if not backup_dir.is_dir():
        return removed
    for path in backup_dir.glob(f"{PARTIAL_PREFIX}*"):
        match = _PARTIAL_PID.match(path.name)
        if match and not _pid_alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path.name)
    return removed
