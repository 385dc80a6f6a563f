"""The one environment-level finding about constraint names: the models' MetaData has no
naming_convention. Same wording wherever it is reported (generate_migration, review_migration), and
its fix points at the file defining the metadata (the models), not at env.py."""

from __future__ import annotations

from alembic_mcp.tools.core.verdict import Finding

CONVENTION = (
    "naming_convention={'ix': 'ix_%(column_0_label)s', 'uq': 'uq_%(table_name)s_%(column_0_name)s', "
    "'ck': 'ck_%(table_name)s_%(constraint_name)s', "
    "'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s', 'pk': 'pk_%(table_name)s'}"
)


def naming_convention_finding(missing: list[str], metadata_file: str | None, env_file: str | None) -> Finding:
    """``missing``: the constraint kinds (uq, fk, ck, pk) the convention does not name."""
    where = metadata_file or env_file
    return Finding(
        rule="unnamed-constraint",
        severity="warning",
        message=f"The models' MetaData has no naming_convention for {', '.join(missing)}: "
        "autogenerate writes those constraints without names.",
        file=where,
        why="Unnamed constraints get database-generated names that differ between backends, so later "
        "migrations cannot drop or alter them reliably (drop_constraint(None, ...)).",
        fix=f"Where the models' MetaData is created ({where or 'the models module'}): "
        f"MetaData({CONVENTION}) (for a declarative base: class Base(DeclarativeBase): metadata = MetaData(...)).",
    )
