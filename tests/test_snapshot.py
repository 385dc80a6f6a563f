"""Schema snapshots, data checks, seeding and failure classification on real databases."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.worker.ops.datacheck import data_lost, table_data
from alembic_mcp.tools.worker.ops.failure_probes import classify
from alembic_mcp.tools.worker.ops.seed import seed_database
from alembic_mcp.tools.worker.ops.snapshot import diff_snapshots, take_snapshot

SCHEMA = [
    "CREATE TABLE parents (id INTEGER PRIMARY KEY, code VARCHAR(8) NOT NULL UNIQUE, score INTEGER DEFAULT 3)",
    "CREATE TABLE kids (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents (id), "
    "nick VARCHAR(30), CONSTRAINT ck_kids_nick CHECK (nick <> ''))",
    "CREATE INDEX ix_kids_nick ON kids (nick)",
]


def _engine(request, backend):
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url", "mariadb": "mariadb_url"}[backend])
    return create_engine(url, poolclass=NullPool)


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mariadb"])
def test_snapshot_diff_seed_and_loss(request, backend):
    engine = _engine(request, backend)
    with engine.connect() as conn:
        for ddl in SCHEMA:
            conn.execute(text(ddl))
        conn.commit()
        before = take_snapshot(conn)
        assert set(before["tables"]) == {"parents", "kids"}
        kids = before["tables"]["kids"]
        assert kids["columns"]["parent_id"]["nullable"] is False
        assert "ix_kids_nick" in kids["indexes"]  # MariaDB adds one for the foreign key too
        assert [fk["referred_table"] for fk in kids["foreign_keys"].values()] == ["parents"]
        assert before["tables"]["parents"]["primary_key"]["columns"] == ["id"]
        assert take_snapshot(conn) == before  # deterministic

        seeded = seed_database(conn, 6)
        assert seeded["tables"] == {"parents": 6, "kids": 6} and seeded["skipped"] == {}
        data = table_data(conn, before)
        assert data["kids"]["rows"] == 6 and data["kids"]["columns"]["nick"]["non_null"] == 6

        conn.execute(text("DROP INDEX ix_kids_nick" + (" ON kids" if backend == "mariadb" else "")))
        conn.execute(text("UPDATE kids SET nick = NULL WHERE id > 2"))
        conn.commit()
        after = take_snapshot(conn, previous=before, tables={"kids"})
        assert [d["message"] for d in diff_snapshots(before, after, "after downgrade")] == [
            "index ix_kids_nick missing after downgrade"
        ]
        lost = data_lost(data, table_data(conn, after), "after the downgrade")
        assert [(x["table"], x["column"], x["rows_before"], x["rows_after"]) for x in lost] == [("kids", "nick", 6, 2)]
    engine.dispose()


def test_postgres_enums_sequences_views(pg_url):
    engine = create_engine(pg_url, poolclass=NullPool)
    with engine.connect() as conn:
        base = take_snapshot(conn)
        conn.execute(text("CREATE TYPE mood AS ENUM ('happy', 'sad')"))
        conn.execute(text("CREATE SEQUENCE counter_seq"))
        conn.execute(text("CREATE TABLE t (id serial PRIMARY KEY, m mood)"))
        conn.execute(text("CREATE VIEW happy AS SELECT id FROM t WHERE m = 'happy'"))
        snap = take_snapshot(conn)
        assert snap["enums"] == {"mood": ["happy", "sad"]}
        assert "counter_seq" in snap["sequences"] and "t_id_seq" in snap["sequences"]
        assert "happy" in snap["views"] and "FROM t" in snap["views"]["happy"]
        messages = [d["message"] for d in diff_snapshots(snap, base, "after downgrade")]
        assert "enum mood missing after downgrade" in messages
        assert "view happy missing after downgrade" in messages
        assert "sequence counter_seq missing after downgrade" in messages
        # the signature cache gives the same answer as a full reflection
        cache: dict = {}
        first = take_snapshot(conn, cache=cache)
        assert take_snapshot(conn, cache=cache) == first == snap
        conn.rollback()
    engine.dispose()


@pytest.mark.parametrize(
    ("message", "sqlstate", "errno", "mode"),
    [
        ('column "badge" of relation "persons" contains null values', "23502", None, "not-null-violation"),
        ("Cannot add a NOT NULL column with default value NULL", None, None, "not-null-violation"),
        (
            "Cannot add or update a child row: a foreign key constraint fails",
            None,
            1452,
            "foreign-key-violation",
        ),
        (
            'could not create unique index "ix" DETAIL: Key (level)=(1) is duplicated.',
            "23505",
            None,
            "unique-violation",
        ),
        ("UNIQUE constraint failed: persons.level", None, None, "unique-violation"),
        ('column "name" cannot be cast automatically to type integer', "42804", None, "type-mismatch"),
        ("Duplicate column name 'nickname'", None, 1060, "object-already-exists"),
        ("no such table: persons", None, None, "object-does-not-exist"),
        ("Cannot drop index 'ix': needed in a foreign key constraint", None, 1553, "object-still-referenced"),
        ("this migration cannot be undone", None, None, "unknown"),
    ],
)
def test_classify(message, sqlstate, errno, mode):
    assert classify(None, message, sqlstate, errno) == mode


PART_CHANGES = [
    "ALTER TABLE kids ADD COLUMN extra INTEGER",
    "CREATE INDEX ix_kids_extra ON kids (extra)",
    "ALTER TABLE kids ADD CONSTRAINT uq_kids_extra UNIQUE (extra)",
    "ALTER TABLE kids DROP CONSTRAINT uq_kids_extra",
    "CREATE UNIQUE INDEX uq_kids_extra ON kids (extra)",  # same name and definition, now a plain index
    "ALTER TABLE kids RENAME COLUMN extra TO other",
    "ALTER TABLE kids ALTER COLUMN other TYPE BIGINT",
    "COMMENT ON COLUMN kids.other IS 'a number'",
    "COMMENT ON COLUMN kids.other IS 'another number'",
    "ALTER TABLE parents RENAME TO elders",  # kids' foreign key now names another table
    "DROP INDEX uq_kids_extra",
    "ALTER TABLE kids DROP COLUMN other",
]


def test_postgres_part_cache_matches_full_reflection(pg_url):
    """The signature cache (whole tables and their columns / constraints / indexes parts) gives, after
    every kind of change, exactly what a reflection without cache gives."""
    engine = create_engine(pg_url, poolclass=NullPool)
    with engine.connect() as conn:
        for ddl in SCHEMA:
            conn.execute(text(ddl))
        cache: dict = {}
        seen = [take_snapshot(conn, cache=cache)]
        for ddl in PART_CHANGES:
            conn.execute(text(ddl))
            cached = take_snapshot(conn, previous=seen[-1], tables={"kids", "parents", "elders"}, cache=cache)
            assert cached == take_snapshot(conn), ddl
            seen.append(cached)
        conn.rollback()
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_checksums_follow_values_in_key_order(request, backend):
    engine = _engine(request, backend)
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, a VARCHAR(10), b INTEGER, j TEXT)"))
        conn.execute(text("INSERT INTO t VALUES (1, 'x', 1, NULL), (2, 'y', NULL, 'q'), (3, NULL, 3, '')"))
        snap = take_snapshot(conn)
        first = table_data(conn, snap)["t"]
        assert table_data(conn, snap)["t"] == first  # deterministic
        assert first["rows"] == 3
        assert {c: v["non_null"] for c, v in first["columns"].items()} == {"id": 3, "a": 2, "b": 2, "j": 2}
        conn.execute(text("UPDATE t SET a = CASE id WHEN 1 THEN 'y' WHEN 2 THEN 'x' ELSE a END"))  # swap
        conn.execute(text("UPDATE t SET j = NULL WHERE id = 3"))  # '' is not NULL
        swapped = table_data(conn, snap)["t"]
        changed = {c for c in first["columns"] if first["columns"][c] != swapped["columns"][c]}
        assert changed == {"a", "j"}
        conn.rollback()
    engine.dispose()


SQLITE_CHANGES = [
    "ALTER TABLE kids ADD COLUMN extra INTEGER",
    "CREATE INDEX ix_kids_extra ON kids (extra)",
    "DROP INDEX ix_kids_extra",
    "CREATE UNIQUE INDEX ix_kids_extra ON kids (extra) WHERE extra > 0",
    "ALTER TABLE kids RENAME COLUMN extra TO other",
    "ALTER TABLE parents RENAME TO elders",  # SQLite rewrites the foreign key in kids' CREATE text
    "CREATE TABLE pets (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES owners)",  # no columns named
    "CREATE TABLE owners (id INTEGER PRIMARY KEY)",
    "DROP TABLE owners",
    "CREATE TABLE owners (code VARCHAR(5) PRIMARY KEY)",  # pets' foreign key now means owners.code
    "DROP INDEX ix_kids_extra",
    "ALTER TABLE kids DROP COLUMN other",
]


def test_sqlite_signature_cache_matches_full_reflection(sqlite_url):
    """On SQLite the signature cache (CREATE texts from sqlite_master) gives, after every kind of change,
    exactly what a reflection without cache gives."""
    engine = create_engine(sqlite_url, poolclass=NullPool)
    with engine.connect() as conn:
        for ddl in SCHEMA:
            conn.execute(text(ddl))
        cache: dict = {}
        seen = [take_snapshot(conn, cache=cache)]
        for ddl in SQLITE_CHANGES:
            conn.execute(text(ddl))
            touched = {"kids", "parents", "elders", "pets", "owners"}
            cached = take_snapshot(conn, previous=seen[-1], tables=touched, cache=cache)
            assert cached == take_snapshot(conn), ddl
            # and again, now answered from the cache
            assert take_snapshot(conn, previous=seen[-1], tables=touched, cache=cache) == cached, ddl
            seen.append(cached)
        assert any(len(key) == 2 for key in cache)
        conn.rollback()
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_seed_respects_check_constraint_lists(request, backend):
    engine = _engine(request, backend)
    with engine.connect() as conn:
        conn.execute(
            text(
                "CREATE TABLE tickets (id INTEGER PRIMARY KEY, status VARCHAR(10) NOT NULL, "
                "CONSTRAINT ck_tickets_status CHECK (status IN ('new', 'open', 'done')))"
            )
        )
        conn.commit()
        seeded = seed_database(conn, 5)
        assert seeded == {"tables": {"tickets": 5}, "skipped": {}}
        values = [r[0] for r in conn.execute(text("SELECT status FROM tickets ORDER BY id"))]
        assert values == ["new", "open", "done", "new", "open"]
    engine.dispose()
