"""Seeding helpers for the backup tests: a small residency-like schema with awkward data."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, Text, create_engine, insert
from sqlalchemy.pool import NullPool

REVISION = "b2e1d1ce0002"
EXPECTED = {"residents": 150, "faculty": 45, "assignments": 1200, "alembic_version": 1}

metadata = MetaData()
residents = Table(
    "residents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("note", Text),
)
faculty = Table("faculty", metadata, Column("id", Integer, primary_key=True), Column("name", String(100)))
assignments = Table(
    "assignments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("resident_id", Integer, ForeignKey("residents.id"), nullable=False),
    Column("rotation", String(50)),
)
version = Table("alembic_version", metadata, Column("version_num", String(32), primary_key=True))

AWKWARD = ["O'Brien (PGY-2)", "back\\slash", "line\nbreak", "semi;colon),(fake", "unicode é✓", "", None]


def seed(url: str, residents_n: int = 150) -> dict[str, int]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(residents),
                [
                    {"id": i, "name": f"resident {i}", "note": AWKWARD[i % len(AWKWARD)]}
                    for i in range(1, residents_n + 1)
                ],
            )
            conn.execute(insert(faculty), [{"id": i, "name": f"dr {i}'s"} for i in range(1, 46)])
            conn.execute(
                insert(assignments),
                [{"id": i, "resident_id": 1 + i % residents_n, "rotation": f"rot({i % 7})"} for i in range(1, 1201)],
            )
            conn.execute(insert(version), [{"version_num": REVISION}])
    finally:
        engine.dispose()
    return {**EXPECTED, "residents": residents_n}
