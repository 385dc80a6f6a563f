"""Rehearsals never hand user code the target's credentials (hostile review C1).

The target belongs to a role with a password; each scratch database gets a login of its own that owns
only that database. A migration that reuses its connection's credentials on the target's database name
(the review's pivot: ``op.get_bind().engine.url.set(database=<target>)``) is refused there, through
test_roundtrip, merge_heads and generate_migration, and the target does not change. This machine's
PostgreSQL trusts local connections, so what refuses the pivot here is the scratch role's lack of
privileges on the target's tables (under password authentication its password would not log in anyway).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from conftest import write_revision
from db_roles import run_sql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from test_generate_migration import upgrade_target
from test_trust_isolation import generic_fingerprint

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.errors import AlembicMcpError
from alembic_mcp.tools.db.scratch_later import wait_for_drops
from alembic_mcp.tools.generate.tool import generate_migration
from alembic_mcp.tools.heads.merge import merge_heads
from alembic_mcp.tools.roundtrip.tool import test_roundtrip as roundtrip

HEAD = "b2e1d1ce0002"

PIVOT = """
import json as _json


def _pivot(where):
    bind = op.get_bind()
    outcome = [where, bind.engine.url.username, None]
    try:
        other = sa.create_engine(bind.engine.url.set(database={target!r}))
        with other.begin() as conn:
            conn.execute(sa.text("INSERT INTO pwned VALUES ('" + where + "')"))
        other.dispose()
        outcome[2] = "wrote"
    except Exception as exc:
        outcome[2] = type(exc).__name__ + ": " + str(exc)[:160]
    with open({report!r}, "a") as fh:
        fh.write(_json.dumps(outcome) + "\\n")
"""

PIVOT_UPGRADE = """
_pivot("upgrade")
op.add_column("rotations", sa.Column("n_pivot", sa.Text()))
"""


def _owner_role(admin_url: str, name: str, password: str, backend: str, may_create_roles: bool) -> list[str]:
    if backend == "postgresql":
        create_role = "CREATEROLE" if may_create_roles else ""
        return [
            f"CREATE ROLE {name} LOGIN PASSWORD '{password}' CREATEDB {create_role}",
            f'CREATE DATABASE "{name}" OWNER {name}',
        ]
    # MariaDB lets no one grant on a database matched only by a wildcard grant: the owner gets *.* here.
    scope = "*.*" if may_create_roles else f"`{name}`.*"
    grants = [f"GRANT ALL ON {scope} TO '{name}'@'{h}' WITH GRANT OPTION" for h in ("%", "localhost")]
    return [
        *(f"CREATE USER '{name}'@'{h}' IDENTIFIED BY '{password}'" for h in ("%", "localhost")),
        f"CREATE DATABASE `{name}`",
        *grants,
    ]


def _drop_owner(backend: str, name: str) -> list[str]:
    if backend == "postgresql":
        return [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f"DROP ROLE IF EXISTS {name}"]
    return [f"DROP DATABASE IF EXISTS `{name}`", *(f"DROP USER IF EXISTS '{name}'@'{h}'" for h in ("%", "localhost"))]


def owned_target(server_url: str, may_create_roles: bool = True) -> Iterator[str]:
    """A database owned by a fresh login role with a password; yields the URL through that role."""
    backend = make_url(server_url).get_backend_name()
    name, password = f"amcp_test_own_{secrets.token_hex(4)}", secrets.token_hex(12)
    run_sql(server_url, *_owner_role(server_url, name, password, backend, may_create_roles))
    try:
        yield (
            make_url(server_url)
            .set(username=name, password=password, database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        wait_for_drops()  # a scratch database this role created may still be dropping (after the result)
        run_sql(server_url, *_drop_owner(backend, name))


@pytest.fixture
def pg_owned_target(pg_url) -> Iterator[str]:
    yield from owned_target(pg_url)


@pytest.fixture
def mariadb_owned_target(mariadb_url) -> Iterator[str]:
    yield from owned_target(mariadb_url)


def prepare_target(project: Path, url: str, report: Path) -> str:
    upgrade_target(project, url, people=3)
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE pwned (x varchar(40))"))
    engine.dispose()
    target = make_url(url).database
    header = PIVOT.format(target=target, report=str(report))
    write_revision(
        project,
        "c1pivot00001",
        HEAD,
        PIVOT_UPGRADE,
        'op.drop_column("rotations", "n_pivot")',
        message="pivot",
        extra_header=header,
    )
    return generic_fingerprint(url)


def pivots(report: Path) -> list[list]:
    return [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []


def test_the_pivot_cannot_write_to_the_target_from_any_rehearsal(example_project, pg_owned_target, tmp_path):
    report = tmp_path / "pivot.jsonl"
    before = prepare_target(example_project, pg_owned_target, report)
    owner = make_url(pg_owned_target).username
    write_revision(example_project, "c1other00001", HEAD, message="other branch")
    project = load_project(example_project, {"database_url": pg_owned_target})

    trip = anyio.run(lambda: roundtrip(project, revision="c1pivot00001", seed_rows=3))
    after_roundtrip = len(pivots(report))
    merged = anyio.run(lambda: merge_heads(project, message="merge pivot", dry_run=True))
    after_merge = len(pivots(report))
    (example_project / "migrations" / "versions" / "c1other00001_other_branch.py").unlink()
    try:  # upgrading its scratch database to the head runs the pivot (it catches its own refusal)
        anyio.run(
            lambda: generate_migration(
                load_project(example_project, {"database_url": pg_owned_target}), message="after pivot", dry_run=True
            )
        )
    except AlembicMcpError as refused:
        assert "privilege" in str(refused), refused
    tries = pivots(report)
    assert 0 < after_roundtrip < after_merge < len(tries), tries  # each of the three tools ran the pivot
    assert all(user != owner and user.startswith("amcp_r_") for _, user, _ in tries), tries
    assert all("InsufficientPrivilege" in outcome for _, _, outcome in tries), tries
    assert trip.scratch_database.dropped and merged.rehearsal.ran
    assert "scratch-shares-credentials" not in {f.rule for f in trip.findings + merged.findings}
    assert generic_fingerprint(pg_owned_target) == before


def test_the_pivot_cannot_reach_the_target_on_mariadb(example_project, mariadb_owned_target, tmp_path):
    report = tmp_path / "pivot.jsonl"
    before = prepare_target(example_project, mariadb_owned_target, report)
    project = load_project(example_project, {"database_url": mariadb_owned_target})
    trip = anyio.run(lambda: roundtrip(project, revision="c1pivot00001", seed_rows=3))
    tries = pivots(report)
    assert tries and all(user.startswith("amcp_r_") for _, user, _ in tries), tries
    assert all("denied" in outcome for _, _, outcome in tries), tries
    assert trip.scratch_database.dropped
    assert generic_fingerprint(mariadb_owned_target) == before


def test_a_user_who_cannot_create_roles_falls_back_with_a_warning(example_project, pg_url):
    for target in owned_target(pg_url, may_create_roles=False):
        upgrade_target(example_project, target)
        write_revision(example_project, "c1plain00001", HEAD, message="plain")
        project = load_project(example_project, {"database_url": target})
        trip = anyio.run(lambda: roundtrip(project, revision="c1plain00001", seed_rows=3))  # noqa: B023
        shared = [f for f in trip.findings if f.rule == "scratch-shares-credentials"]
        assert shared and shared[0].severity == "warning", trip.findings
        assert "scratch_url" in (shared[0].fix or "")


def test_a_migration_needing_superuser_is_reported_as_a_rehearsal_limit(empty_project, pg_url):
    """Hostile-review C1 follow-up: the scratch role is no superuser; say so instead of blaming the migration."""
    up = "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
    up += 'op.execute("SET session_replication_role = replica")'
    write_revision(empty_project, "r1", None, up, "op.drop_table('t')")
    own = anyio.run(lambda: roundtrip(load_project(empty_project, {"database_url": pg_url}), revision="r1"))
    limit = [f for f in own.findings if f.rule == "scratch-role-lacks-privilege"]
    assert limit and "scratch_credentials" in (limit[0].fix or ""), own.findings
    shared_project = load_project(empty_project, {"database_url": pg_url, "scratch_credentials": "target"})
    shared = anyio.run(lambda: roundtrip(shared_project, revision="r1"))
    rules = {f.rule for f in shared.findings}
    assert "scratch-shares-credentials" in rules and "scratch-role-lacks-privilege" not in rules
    assert shared.steps[0].status != own.steps[0].status


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"scratch_credentials": "nobody"}, "scratch_credentials"),
        ({"scratch_credentials": ""}, "scratch_credentials"),
        ({"target_read_only_url": 5}, "target_read_only_url"),
    ],
)
def test_bad_credential_settings_are_named(example_project, overrides, expected):
    from alembic_mcp.tools.core.errors import ProjectError

    with pytest.raises(ProjectError, match=expected):
        load_project(example_project, overrides)
