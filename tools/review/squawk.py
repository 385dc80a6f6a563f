"""Layer 2 of review_migration: squawk over each revision's offline-rendered SQL (PostgreSQL targets).

Runs the ``squawk`` binary (squawk-cli) once over one .sql file per revision with the JSON reporter,
maps squawk's rule names to our rule ids and merges with layer 1: a squawk finding that layer 1
already reported (same rule, same revision) or examined and cleared (same rule, same table) is
dropped; the rest are added with the statement they are about.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import anyio

from alembic_mcp.tools.core.verdict import Finding
from alembic_mcp.tools.worker.inputs import signature

SQUAWK_TO_RULE = {
    "adding-required-field": "add-column-required",
    "adding-not-nullable-field": "set-not-null",
    "require-concurrent-index-creation": "create-index-non-concurrent",
    "ban-concurrent-index-creation-in-transaction": "concurrent-in-transaction",
    "require-concurrent-index-deletion": "drop-index-non-concurrent",
    "adding-foreign-key-constraint": "fk-not-valid-missing",
    "constraint-missing-not-valid": "fk-not-valid-missing",
    "disallowed-unique-constraint": "add-unique-constraint",
    "adding-serial-primary-key-field": "primary-key-change",
    "adding-primary-key-constraint": "primary-key-change",
    "changing-column-type": "change-column-type",
    "renaming-column": "rename-column",
    "renaming-table": "rename-table",
    "ban-drop-column": "drop-column",
    "ban-drop-table": "drop-table",
    "adding-field-with-default": "volatile-default",
    "require-lock-timeout": "missing-lock-timeout",
}
# Style advice that says nothing about this migration's safety.
EXCLUDED = [
    "require-statement-timeout",
    "prefer-robust-stmts",
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-text-field",
    "prefer-timestamptz",
    "transaction-nesting",
]
TABLE_IN_SQL = re.compile(
    r"\b(?:table|on|into|update|from)\s+(?:only\s+|if\s+(?:not\s+)?exists\s+)?\"?([\w.]+)\"?", re.I
)
# CREATE TYPE x AS ENUM / ALTER TYPE x ADD VALUE: the object is the type, not a table.
TYPE_IN_SQL = re.compile(r"^\s*(?:create|alter|drop)\s+type\s+(?:if\s+(?:not\s+)?exists\s+)?\"?([\w.]+)\"?", re.I)
# Statements creating a new object: they lock no existing table (CREATE TABLE's FK takes a brief lock on
# the referenced table, which layer 1 judges).
NEW_OBJECT = re.compile(r"^\s*create\s+(table|type|sequence|schema|domain|function|or\s+replace\s+function)\b", re.I)
# Lines the offline renderer writes around each transaction and autocommit block: never a finding.
RENDERING_ARTIFACT = re.compile(r"^\s*(begin|commit|start\s+transaction)\s*;?\s*$", re.I)


def squawk_binary() -> str | None:
    local = Path(sys.executable).parent / "squawk"
    return str(local) if local.exists() else shutil.which("squawk")


async def run_squawk(sql_by_revision: dict[str, str], pg_version: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """squawk JSON violations per revision (empty lists when squawk finds nothing).

    ``pg_version`` (the target's server version, e.g. "16.4") lets squawk judge version-dependent rules.
    squawk lints each file on its own, so a revision's violations are kept (in-process, bounded) by its
    SQL's hash, the version and the squawk binary's signature; only the others are linted again.
    """
    binary = squawk_binary()
    if binary is None:
        raise FileNotFoundError("squawk is not installed (pip install squawk-cli)")
    keys = {rev: _lint_key(binary, sql, pg_version) for rev, sql in sql_by_revision.items()}
    out = {rev: json.loads(_linted[key]) for rev, key in keys.items() if key in _linted}
    missing = {rev: sql for rev, sql in sql_by_revision.items() if rev not in out}
    fresh = await _run_squawk(binary, missing, pg_version)
    for rev, violations in fresh.items():
        _linted[keys[rev]] = json.dumps(violations)
        while len(_linted) > MAX_LINTED:
            _linted.popitem(last=False)
    return {rev: out.get(rev, fresh.get(rev, [])) for rev in sql_by_revision}


MAX_LINTED = 5000
_linted: OrderedDict[tuple, str] = OrderedDict()  # violations (JSON) by _lint_key


def _lint_key(binary: str, sql: str, pg_version: str | None) -> tuple:
    return binary, tuple(signature(binary) or ()), pg_version, hashlib.sha256(sql.encode()).hexdigest()


async def _run_squawk(
    binary: str, sql_by_revision: dict[str, str], pg_version: str | None
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {rev: [] for rev in sql_by_revision}
    if not sql_by_revision:
        return out
    with tempfile.TemporaryDirectory(prefix="alembic-mcp-squawk-") as tmp:
        files = {}
        for rev, sql in sql_by_revision.items():
            path = Path(tmp) / f"{rev}.sql"
            path.write_text(sql)
            files[str(path)] = rev
            files[path.name] = rev
        result = await anyio.run_process(
            [
                binary,
                "--reporter",
                "json",
                "--exclude",
                ",".join(EXCLUDED),
                *([f"--pg-version={pg_version}"] if pg_version else []),
                *sorted({str(Path(tmp) / f"{r}.sql") for r in sql_by_revision}),
            ],
            check=False,
            cwd=tmp,
        )
        text = result.stdout.decode(errors="replace").strip()
        if result.returncode not in (0, 1) or not text.startswith("["):
            raise RuntimeError(
                f"squawk failed (exit {result.returncode}): {result.stderr.decode(errors='replace')[-500:]}"
            )
        for item in json.loads(text):
            finding_rev = files.get(item.get("file", "")) or files.get(Path(item.get("file", "")).name)
            if finding_rev is None:
                continue
            lines = sql_by_revision[finding_rev].splitlines()
            index = item.get("line", 0)
            item["statement"] = lines[index].strip() if 0 <= index < len(lines) else ""
            out[finding_rev].append(item)
    return out


def object_of(statement: str) -> tuple[str | None, str | None]:
    """(table, type) a rendered statement is about; a CREATE/ALTER TYPE names a type and no table."""
    if m := TYPE_IN_SQL.match(statement):
        return None, m.group(1).split(".")[-1]
    tables = [m.group(1).split(".")[-1] for m in TABLE_IN_SQL.finditer(statement)]
    return next((t for t in tables if t.lower() not in ("only", "if")), None), None


def merge(
    violations: list[dict[str, Any]],
    layer1: list[Finding],
    cleared: set[tuple[str, str | None]],
    file: str | None,
    op_lines: dict[str, int],
    transient: frozenset[str] = frozenset(),
) -> list[Finding]:
    """New findings from squawk that layer 1 did not already report or clear for this revision.

    ``transient``: constraints the revision creates and drops again (the CHECK of the CHECK-based SET
    NOT NULL): dropping them removes no guarantee anyone relied on."""
    have = {f.rule for f in layer1}
    cleared_rules = {rule for rule, table in cleared if table is None}
    added: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for item in violations:
        name = item.get("rule_name", "")
        statement = item.get("statement", "")
        table, type_name = object_of(statement)
        if "alembic_version" in statement or NEW_OBJECT.match(statement):
            continue  # the version table, and objects the migration creates (no lock on existing data)
        if RENDERING_ARTIFACT.match(statement):
            continue
        if name == "ban-drop-constraint" and any(re.search(rf"\b{re.escape(c)}\b", statement) for c in transient):
            continue
        rule = SQUAWK_TO_RULE.get(name)
        if rule is not None and (rule in have or (rule, table) in cleared or rule in cleared_rules):
            continue
        our = rule or f"squawk:{name}"
        key = (our, table or type_name or statement)
        if key in seen or (rule == "missing-lock-timeout" and any(k[0] == rule for k in seen)):
            continue
        seen.add(key)
        added.append(
            Finding(
                rule=our,
                severity="warning" if rule else "info",
                message=f"squawk {name}: {item.get('message', '')}"
                + (f" (type {type_name})" if type_name else "")
                + f" Statement: {statement[:200]}",
                file=file,
                line=op_lines.get(table or ""),
                table=table,
                why=item.get("message"),
                fix=item.get("help") or "See https://squawkhq.com/docs/" + name,
            )
        )
    return added
