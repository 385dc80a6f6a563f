"""How the deploy runs the migrations, next to how the rehearsal ran them.

A rehearsal commits each step on its own (``transaction_per_migration`` forced). The deploy runs
what env.py says: with ``transaction_per_migration=True`` the same; without it (Alembic's default)
every pending revision in one transaction. Read from env.py's source (``context.configure``
keywords), it tells what the rehearsal could not show: an autocommit block commits the deploy's
transaction early (everything before it stays applied if a later revision fails), and
``NOT VALID`` then ``VALIDATE`` in one transaction saves no lock time.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from alembic_mcp.tools.core.verdict import Finding
from alembic_mcp.tools.history.lock_timeout import literal_scopes
from alembic_mcp.tools.history.migration_ast import parse_source

DeployTransactions = Literal["per-migration", "single", "unknown"]

_NOT_VALID = (
    re.compile(r"ADD\s+CONSTRAINT\s+\"?(\w+)\"?[^;\"']*?NOT\s+VALID", re.IGNORECASE),
    re.compile(
        r"create_(?:foreign_key|check_constraint)\(\s*(?:op\.f\(\s*)?['\"](\w+)['\"][\s\S]{0,600}?"
        r"postgresql_not_valid\s*=\s*True"
    ),
)
_VALIDATE = re.compile(r"VALIDATE\s+CONSTRAINT\s+\"?(\w+)\"?", re.IGNORECASE)
_AUTOCOMMIT = re.compile(r"\bautocommit_block\s*\(")


class DeployMode(BaseModel):
    env_py: DeployTransactions = Field(
        description="per-migration: env.py sets transaction_per_migration=True (one transaction per revision); "
        "single: all pending revisions in one transaction (Alembic's default); unknown: set from an expression."
    )
    rehearsal: str = Field(description="How the rehearsal ran the steps.")
    differences: list[str] = Field(default_factory=list, description="What the deploy does that the rehearsal did not.")


def env_transactions(env_py: Path) -> DeployTransactions:
    """``transaction_per_migration`` as env.py passes it to ``configure``."""
    try:
        tree = ast.parse(env_py.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return "unknown"
    seen: list[DeployTransactions] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "configure"):
            continue
        for keyword in node.keywords:
            if keyword.arg is None:
                seen.append("unknown")  # **kwargs: cannot tell
            elif keyword.arg == "transaction_per_migration":
                value = keyword.value
                constant = isinstance(value, ast.Constant) and isinstance(value.value, bool)
                seen.append(("per-migration" if value.value else "single") if constant else "unknown")  # type: ignore[attr-defined]
    if "unknown" in seen:
        return "unknown"
    return "per-migration" if "per-migration" in seen else "single"


def deploy_mode(env_py: Path, rehearsal_mode: str, pending: int) -> DeployMode:
    mode = env_transactions(env_py)
    differences = []
    if mode == "single" and rehearsal_mode == "per-step" and pending > 1:
        differences.append(
            f"env.py runs all {pending} pending revisions in one transaction (no transaction_per_migration); "
            "the rehearsal committed each step on its own. In the deploy a failure rolls back every pending "
            "revision (but what an autocommit block committed), and each lock is held until the last revision commits."
        )
    if mode == "unknown":
        differences.append(
            "env.py sets transaction_per_migration from an expression: whether the deploy runs one transaction "
            "per revision or one for all could not be read; the rehearsal committed each step on its own."
        )
    return DeployMode(env_py=mode, rehearsal=rehearsal_mode, differences=differences)


def deploy_findings(mode: DeployMode, sources: dict[str, tuple[str, str]]) -> list[Finding]:
    """Findings for autocommit blocks and VALIDATE steps whose effect depends on the deploy's transactions.

    ``sources``: revision -> (file, source text), in upgrade order."""
    findings: list[Finding] = []
    single = mode.env_py == "single" and len(sources) > 1
    not_valid_in: dict[str, str] = {}
    for rev, (file, source) in sources.items():
        has_autocommit = bool(_AUTOCOMMIT.search(source))
        if single and has_autocommit:
            findings.append(_autocommit_finding(rev, file, _work_before_block(source)))
            not_valid_in.clear()  # the block commits every earlier revision: their VALIDATEs run apart from them
        for pattern in _NOT_VALID:
            for name in pattern.findall(source):
                not_valid_in.setdefault(name, rev)
        for name in _VALIDATE.findall(source):
            origin = not_valid_in.get(name)
            same_transaction = origin == rev or (single and origin is not None)
            if same_transaction and not has_autocommit:
                findings.append(_validate_finding(rev, file, name, origin or rev, mode.env_py))
    return findings


def _work_before_block(source: str) -> bool:
    """upgrade() changes something before its first autocommit block (setting lock_timeout is no change);
    True when the file cannot be read that far."""
    try:
        ops = parse_source(source).ops_in("upgrade")
    except (SyntaxError, ValueError):
        return True
    for op in ops:
        if op.in_autocommit:
            return False
        if op.name not in ("get_context", "get_bind", "f") and (op.name != "execute" or not literal_scopes(op)):
            return True
    return False


def _autocommit_finding(rev: str, file: str, work_before: bool) -> Finding:
    if not work_before:  # the block opens the revision: what it commits is complete revisions
        return Finding(
            rule="deploy-autocommit-commits-early",
            severity="info",
            file=file,
            message=f"{rev}: its autocommit block, first in upgrade(), commits the deploy's single transaction "
            "there: the pending revisions before it are complete and alembic_version names them, so after a later "
            "failure a re-run continues after them. The rehearsal committed each revision on its own.",
            why="env.py runs all pending revisions in one transaction; autocommit_block() ends that transaction.",
            fix="Nothing to change. A deploy with an autocommit block cannot be all or nothing: if that matters, "
            "deploy the revisions before this one first.",
        )
    return Finding(
        rule="deploy-autocommit-commits-early",
        severity="warning",
        file=file,
        message=f"{rev}: its autocommit block commits the deploy's single transaction there: every pending "
        "revision before it and this one's statements before the block are committed while alembic_version still "
        "names the previous revision, so after a later failure a re-run repeats those statements and fails. The "
        "rehearsal committed each revision on its own and cannot show it.",
        why="env.py runs all pending revisions in one transaction; autocommit_block() ends that transaction.",
        fix="Move the autocommit block to a revision of its own after this one (review_migration's "
        "create-index-non-concurrent fix does it), so that nothing of this revision is committed before "
        "alembic_version names it.",
    )


def _validate_finding(rev: str, file: str, name: str, origin: str, env_mode: str) -> Finding:
    where = "in the same revision" if origin == rev else f"in {origin}, in the same deploy transaction"
    return Finding(
        rule="deploy-validate-same-transaction",
        severity="warning",
        file=file,
        message=f"{rev}: VALIDATE CONSTRAINT {name} runs in the same transaction as the NOT VALID that created it "
        f"({where}; env.py: {env_mode}): the lock taken by ADD CONSTRAINT is held through the validating scan, "
        "so NOT VALID saves no lock time.",
        why="NOT VALID then VALIDATE only shortens locking when the VALIDATE runs in a later transaction.",
        fix=_validate_fix(rev, origin, env_mode),
    )


def _validate_fix(rev: str, origin: str, env_mode: str) -> str:
    """Where the VALIDATE saves lock time; never an autocommit block, which would commit a one-transaction
    deploy early."""
    if origin == rev and env_mode == "per-migration":
        return "Move the VALIDATE to a new revision after this one: env.py commits each revision on its own."
    if origin != rev:  # already a revision of its own: what is left is how it is deployed
        return (
            f"The VALIDATE is already in a revision after {origin}; deploy {origin} in its own transaction first: "
            f"alembic upgrade {origin}, then the rest, or transaction_per_migration=True in env.py's "
            "context.configure."
        )
    return (
        f"Move the VALIDATE to a revision after {origin} and deploy it in its own transaction: "
        f"alembic upgrade {origin} first, then the rest, or transaction_per_migration=True in env.py's "
        "context.configure."
    )
