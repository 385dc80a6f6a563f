"""Seed rows leave a key's own sequence where real inserts would: Flask-AppBuilder draws ``ab_view_menu.id``
from ``Sequence("ab_view_menu_id_seq")`` client-side, and a migration inserting through the ORM after the
seed met ``Key (id)=(1) already exists`` (superset's security_converge revisions)."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic_mcp.tools.worker.ops.seed import seed_database


def test_a_client_side_sequence_is_moved_past_the_seeded_keys(pg_url):
    engine = create_engine(pg_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE SEQUENCE ab_view_menu_id_seq"))
            conn.execute(text("CREATE TABLE ab_view_menu (id INTEGER PRIMARY KEY, name VARCHAR(250) UNIQUE)"))
            conn.execute(text("CREATE TABLE notes (id SERIAL PRIMARY KEY, body TEXT)"))  # its own default
            conn.commit()
            seeded = seed_database(conn, 5)
            assert seeded == {"tables": {"ab_view_menu": 5, "notes": 5}, "skipped": {}}
            conn.execute(text("INSERT INTO ab_view_menu (id, name) VALUES (nextval('ab_view_menu_id_seq'), 'Chart')"))
            conn.execute(text("INSERT INTO notes (body) VALUES ('x')"))
            ids = conn.execute(text("SELECT id FROM ab_view_menu WHERE name = 'Chart'")).scalar_one()
            assert ids == 6
            conn.rollback()
    finally:
        engine.dispose()
