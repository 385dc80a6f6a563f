"""The review rules over a migration's operations: a registry of rules, one module per operation family.

Public names: ``lint_migration`` / ``review_source`` (layer 1 over one parsed migration, with its
suppression comments), ``Definitions`` (earlier migrations, for inverse fixes), ``Hit`` and
``rule_ids()``. See registry.py for how a rule is declared and ARCHITECTURE-style notes there.
"""

from alembic_mcp.tools.review.rules.downgrade import Definitions
from alembic_mcp.tools.review.rules.engine import FileReview, Lint, lint_migration, review_source
from alembic_mcp.tools.review.rules.registry import Hit, all_rules, rule_ids

__all__ = ["Definitions", "FileReview", "Hit", "Lint", "all_rules", "lint_migration", "review_source", "rule_ids"]
