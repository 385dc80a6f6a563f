"""model_scan: tables found in model modules by reading the source, never importing it."""

from __future__ import annotations

from pathlib import Path

from alembic_mcp.tools.generate.model_scan import defines_tables, scan_models

MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped

class Base(DeclarativeBase):
    pass

class Shift(Base):
    __tablename__ = "shifts"
    __table_args__ = ({"schema": "ops"},)

class Leave(Base):
    __tablename__: str = "leaves"

class Mixin:
    __tablename__ = None  # not a table name

badges = sa.Table("badges", Base.metadata, sa.Column("id", sa.Integer, primary_key=True))
"""


def test_scan_finds_classes_tables_and_schemas(tmp_path: Path):
    pkg = tmp_path / "app"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(MODELS)
    for skipped in ("tests", ".venv", "migrations", "node_modules"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "m.py").write_text('class X:\n    __tablename__ = "hidden"\n')
    (tmp_path / "broken.py").write_text("class (:\n")  # a syntax error is skipped, not raised

    found = {(t.qualified, t.defined_by, t.module) for t in scan_models(tmp_path, [tmp_path / "migrations"])}

    assert found == {
        ("ops.shifts", "Shift", "app.models"),
        ("leaves", "Leave", "app.models"),
        ("badges", "Table()", "app.models"),
    }
    assert defines_tables(pkg / "models.py") and not defines_tables(pkg / "__init__.py")
