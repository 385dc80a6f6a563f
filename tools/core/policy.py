"""The escalation policy: the skill's escalation rule ids and the classification of targets and tables."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from alembic_mcp.tools.core.url_text import UrlParts

ESCALATION_RULES: dict[str, str] = {
    "drop-table-with-data": "a table is dropped and has rows (or its row count cannot be read)",
    "drop-column-with-data": "a column is dropped and holds non-null values (or unknown)",
    "primary-key-change": "a primary key is dropped, altered or replaced",
    "large-data-migration": "a data migration touches more rows than large_migration_rows",
    "production-database": "the target is classified production",
    "protected-table": "a table matching protected_tables is changed (compliance tables)",
    "audit-trail": "a table matching audit_tables is changed",
    "unclear-rollback": "downgrade() is missing, empty, raises, or cannot restore what upgrade changed",
    "migration-failure-unclear": "a rehearsal fails and the cause matches no known failure mode",
    "conflicting-heads": "two heads change the same table",
    "breaking-api-change": "a rename, drop or type change of something the application's models still use",
    "uninspectable-sql": "a migration runs SQL the reviewer cannot read (built at run time or unparsable)",
    "own-connection": "a migration opens its own database connection or reads a database URL (os.environ, config)",
    "destructive-data-change": "an UPDATE/DELETE without WHERE or a USING that discards values wipes existing data",
}

EscalationRule = Literal[
    "drop-table-with-data",
    "drop-column-with-data",
    "primary-key-change",
    "large-data-migration",
    "production-database",
    "protected-table",
    "audit-trail",
    "unclear-rollback",
    "migration-failure-unclear",
    "conflicting-heads",
    "breaking-api-change",
    "uninspectable-sql",
    "own-connection",
    "destructive-data-change",
]

WARN_MIGRATION_ROWS = 10_000


def matches_any(name: str, patterns: list[str]) -> bool:
    """Case-insensitive glob match of a table name (optionally schema-qualified) against patterns."""
    lowered = name.lower()
    bare = lowered.rsplit(".", 1)[-1]
    return any(fnmatch.fnmatchcase(lowered, p.lower()) or fnmatch.fnmatchcase(bare, p.lower()) for p in patterns)


def is_production(url: URL | UrlParts | None, environment: str | None, production_hosts: list[str]) -> bool:
    """Production when configured so, or when the target's host matches a production host pattern."""
    if environment and environment.lower() in ("production", "prod"):
        return True
    if url is None or not url.host:
        return False
    return any(fnmatch.fnmatchcase(url.host.lower(), p.lower()) for p in production_hosts)
