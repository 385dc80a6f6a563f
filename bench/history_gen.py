"""Generate a synthetic Alembic project with a long linear history, for the benchmarks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ENV_PY = """from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
target_metadata = None


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"""


def revision_id(i: int) -> str:
    return f"r{i:011x}"


def make_project(root: Path, revisions: int, url: str = "sqlite:///bench.db") -> Path:
    """A project whose history creates ``revisions // 4`` tables and alters them in between."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "alembic", "init", "migrations"], cwd=root, check=True, capture_output=True)
    ini = root / "alembic.ini"
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", url))
    (root / "migrations" / "env.py").write_text(ENV_PY)
    versions = root / "migrations" / "versions"
    for i in range(revisions):
        table = f"t{i // 4}"
        step = i % 4
        if step == 0:
            up = (
                f"op.create_table({table!r}, sa.Column('id', sa.Integer, primary_key=True), "
                f"sa.Column('name', sa.String(50), nullable=True))"
            )
            down = f"op.drop_table({table!r})"
        elif step == 1:
            up = f"op.add_column({table!r}, sa.Column('c{i}', sa.Integer, nullable=True))"
            down = f"op.drop_column({table!r}, 'c{i}')"
        elif step == 2:
            up = f"op.create_index('ix_{table}_name', {table!r}, ['name'])"
            down = f"op.drop_index('ix_{table}_name', table_name={table!r})"
        else:
            up = f"op.add_column({table!r}, sa.Column('d{i}', sa.String(20), nullable=True))"
            down = f"op.drop_column({table!r}, 'd{i}')"
        down_rev = repr(revision_id(i - 1)) if i else "None"
        (versions / f"{revision_id(i)}_step_{i}.py").write_text(
            f'"""step {i}\n\nRevision ID: {revision_id(i)}\n"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
            f"revision = {revision_id(i)!r}\ndown_revision = {down_rev}\nbranch_labels = None\n"
            f"depends_on = None\n\n\ndef upgrade():\n    {up}\n\n\ndef downgrade():\n    {down}\n"
        )
    return root
