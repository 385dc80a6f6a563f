"""The demo's sandbox: a copy of the bundled residency example on a SQLite database holding data,
and the model edits the demo makes (what an agent would do between tool calls)."""

from __future__ import annotations

import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

# Source tree: <repo>/examples; installed wheel: alembic_mcp/examples. Both sit beside tools/.
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "residency"


def example_source() -> Path:
    """The bundled example: next to the sources (editable install) or installed as package data."""
    if EXAMPLE.is_dir():
        return EXAMPLE
    raise FileNotFoundError(f"The bundled example project is missing ({EXAMPLE}); reinstall alembic-mcp.")


def create_demo_project(parent: Path | None = None) -> Path:
    """Copy the example, migrate its SQLite database to head and fill it with data."""
    root = Path(tempfile.mkdtemp(prefix="alembic-mcp-demo-", dir=parent)) / "residency"
    shutil.copytree(example_source(), root, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".alembic-mcp"))
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=root, check=True, capture_output=True)
    seed(root / "residency.db")
    subprocess.run(["git", "init", "-q"], cwd=root, check=False, capture_output=True)
    return root


def seed(db_path: Path, residents: int = 150, faculty: int = 45, assignments: int = 1200) -> dict[str, int]:
    rng = random.Random(7)
    conn = sqlite3.connect(db_path)
    with conn:
        people: list[tuple[int, str, str, str, int | None]] = [
            (i, f"Resident {i}", f"resident{i}@hospital.test", "resident", rng.randint(1, 5))
            for i in range(1, residents + 1)
        ]
        people += [
            (residents + i, f"Faculty {i}", f"faculty{i}@hospital.test", "faculty", None) for i in range(1, faculty + 1)
        ]
        conn.executemany("INSERT INTO persons (id, name, email, role, pgy_level) VALUES (?, ?, ?, ?, ?)", people)
        rotations = [
            "ICU",
            "Emergency",
            "Cardiology",
            "Surgery",
            "Pediatrics",
            "Night Float",
            "Clinic",
            "Oncology",
            "Neurology",
            "Radiology",
            "Elective",
            "Research",
        ]
        conn.executemany("INSERT INTO rotations (id, name) VALUES (?, ?)", list(enumerate(rotations, 1)))
        start = date(2026, 7, 1)
        rows = []
        for i in range(1, assignments + 1):
            begins = start + timedelta(weeks=rng.randint(0, 48))
            rows.append(
                (
                    i,
                    rng.randint(1, residents),
                    rng.randint(1, len(rotations)),
                    begins.isoformat(),
                    (begins + timedelta(weeks=4)).isoformat(),
                    rng.random() < 0.2,
                )
            )
        conn.executemany(
            "INSERT INTO assignments (id, person_id, rotation_id, starts_on, ends_on, on_call) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO audit_log (actor, action, detail) VALUES (?, ?, ?)",
            [("scheduler", "assign", f"assignment {i}") for i in range(1, 51)],
        )
        conn.executemany(
            "INSERT INTO acgme_compliance (person_id, week_of, duty_hours) VALUES (?, ?, ?)",
            [
                (rng.randint(1, residents), (start + timedelta(weeks=w)).isoformat(), rng.randint(50, 80))
                for w in range(300)
            ],
        )
    conn.close()
    return {"persons": residents + faculty, "rotations": len(rotations), "assignments": assignments}


def edit_models(root: Path, old: str, new: str) -> None:
    """Change residency/models.py the way an agent would."""
    models = root / "residency" / "models.py"
    text = models.read_text()
    if old not in text:
        raise ValueError(f"{old!r} not found in {models}")
    models.write_text(text.replace(old, new, 1))


def write_branch_revision(root: Path, revision: str, parent: str, table: str, column: str) -> Path:
    """A hand-written revision adding a nullable column: two of these on one parent make two heads."""
    path = root / "migrations" / "versions" / f"{revision}_add_{column}_to_{table}.py"
    path.write_text(
        f'"""add {column} to {table}\n\nRevision ID: {revision}\nRevises: {parent}\n"""\n\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {revision!r}\ndown_revision = {parent!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        f"    with op.batch_alter_table({table!r}) as batch_op:\n"
        f"        batch_op.add_column(sa.Column({column!r}, sa.String(length=40), nullable=True))\n\n\n"
        "def downgrade() -> None:\n"
        f"    with op.batch_alter_table({table!r}) as batch_op:\n"
        f"        batch_op.drop_column({column!r})\n"
    )
    return path
