"""The database facts a rule may ask for: typed, hashable requests the context layer answers.

A rule attaches one fact to its hit ("does this table have rows?", "how many non-null values does this
column hold?"); tools/review/context.py asks the target database once per distinct fact and dispatches
each hit to the applier registered for its fact's type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RowsFact:
    """How many rows the table holds."""

    table: str | None


@dataclass(frozen=True)
class NonNullFact:
    """How many non-null values a column (about to be dropped) holds."""

    table: str | None
    column: str | None


@dataclass(frozen=True)
class NullsFact:
    """How many rows hold NULL in a column that becomes NOT NULL."""

    table: str | None
    column: str | None


@dataclass(frozen=True)
class OrphansFact:
    """Rows whose foreign-key columns reference no row of the referenced table (count and sample)."""

    table: str | None
    columns: tuple[str, ...]
    ref_table: str | None
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class DuplicatesFact:
    """Duplicated values of the key a unique constraint or index covers (count, sample, the rows' keys):
    ``columns`` by name, or ``expressions`` (an expression index's key as SQL, proven a read before it runs)."""

    table: str | None
    columns: tuple[str, ...]
    expressions: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackfillRowsFact:
    """How many rows a data migration (UPDATE/DELETE) may touch."""

    table: str | None


@dataclass(frozen=True)
class ColumnTypeFact:
    """The column's current type, and whether it belongs to the primary key."""

    table: str | None
    column: str | None


@dataclass(frozen=True)
class IndexOnFact:
    """Whether an index already starts with these columns."""

    table: str | None
    columns: tuple[str, ...]


Fact = (
    RowsFact | NonNullFact | NullsFact | OrphansFact | DuplicatesFact | BackfillRowsFact | ColumnTypeFact | IndexOnFact
)

# Facts answered by a query over the table's rows (the others need only row counts and the catalogue).
ROW_QUERY_FACTS = (NonNullFact, NullsFact, OrphansFact, DuplicatesFact)


def tables_of(fact: Fact) -> list[str]:
    """Every table the fact needs to know about."""
    names = [fact.table, getattr(fact, "ref_table", None)]
    return [n for n in names if n]
