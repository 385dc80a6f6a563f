"""Seed rows hold JSON in the text columns a migration parses as JSON (superset's ``json.loads(dash.position_json
or "{}")``): read statically from the revisions and their migration helpers, rehearsed with default seeding."""

from __future__ import annotations

import textwrap

import pytest
from conftest import write_revision
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, Text
from test_roundtrip import assert_clean, make_project, roundtrip

from alembic_mcp.tools.worker.ops.seed_json import json_reads, json_text_columns, json_text_value

READS = """
import json
import simplejson
from superset.utils import json as sjson


class Dashboard(Base):
    __tablename__ = "dashboards"
    id = Column(Integer, primary_key=True)
    layout = Column("position", Text)


def try_load_json(data):
    return data and json.loads(data) or {}


class Converter:
    def parse(self, text):
        return sjson.loads(text)


def upgrade():
    for dash in session.query(Dashboard):
        original = dash.layout or ""
        positions = json.loads(original or "{}")
        meta = json.loads(dash.json_metadata)
        filters = json.loads(meta.get("default_filters") or "{}")  # a key of parsed JSON, not a column
    for id_, params in bind.execute(select_rows):
        simplejson.loads(params)
    for row in rows:
        try_load_json(row["extras"])
        Converter().parse(row.query_context)
    for (doc,) in bind.execute(aliased):
        json.loads(doc)
"""


def test_json_reads_name_the_columns_parsed_as_json():
    found = json_reads([textwrap.dedent(READS)])
    assert ("dashboards", "position") in found  # the file's model maps the attribute to its table and column
    assert (None, "layout") not in found
    for column in ("json_metadata", "params", "extras", "query_context"):
        assert (None, column) in found, column
    assert (None, "default_filters") not in found and (None, "meta") not in found
    assert (None, "doc") in found  # a name the loop binds; no column has it, so it changes nothing


def test_json_text_columns_and_values():
    table = Table(
        "dashboards",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("position_json", Text),  # named JSON
        Column("params", Text),  # read as JSON
        Column("notes", Text, comment="free JSON document"),
        Column("title", String(100)),  # neither
        Column("blob", LargeBinary),
        Column("flag", String(1)),
    )
    columns = json_text_columns(table, {(None, "params"), ("dashboards", "blob"), (None, "flag"), ("other", "title")})
    assert columns == {"position_json", "params", "notes", "blob"}
    values = [json_text_value(table.c.params, i) for i in range(1, 5)]
    assert len(set(values)) == 4 and all(v.startswith("{") and v.strip("{ }") == "" for v in values)
    assert json_text_value(table.c.blob, 2) == b"{ }"
    assert json_text_value(Column("short", String(3)), 7) == "{}"


DASHBOARD_MODEL = """

from sqlalchemy import Text


class Dashboard(Base):
    __tablename__ = "dashboards"
    id = Column(Integer, primary_key=True)
    layout = Column(Text, nullable=True)
    params = Column(Text, nullable=True)
    extras = Column(Text, nullable=True)
"""

HELPER = """
import json


def try_load_json(data):
    return data and json.loads(data) or {}
"""

HEADER = """
import json

from sqlalchemy.orm import Session, declarative_base

from residency.migration_helpers import try_load_json

Base = declarative_base()


class Dashboard(Base):
    __tablename__ = "dashboards"
    id = sa.Column(sa.Integer, primary_key=True)
    layout = sa.Column(sa.Text)
"""

PARSE_UP = """
bind = op.get_bind()
for dash in Session(bind=bind).query(Dashboard).all():
    original = dash.layout or ""
    for position in json.loads(original or "{}").values():
        position["width"]
for id_, params in bind.execute(sa.text("SELECT id, params FROM dashboards")).all():
    json.loads(params)
for row in bind.execute(sa.text("SELECT id, extras FROM dashboards")).all():
    try_load_json(row.extras)
"""


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_a_migration_parsing_text_as_json_passes_with_default_seeding(request, empty_project, backend):
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url"}[backend])
    project = make_project(empty_project, DASHBOARD_MODEL)
    (project / "residency" / "migration_helpers.py").write_text(HELPER)
    write_revision(
        project,
        "r2",
        "r1",
        'op.create_table("dashboards", sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("layout", sa.Text()), sa.Column("params", sa.Text()), sa.Column("extras", sa.Text()))',
        'op.drop_table("dashboards")',
        message="dashboards",
    )
    write_revision(project, "r3", "r2", PARSE_UP, "pass", message="parse json", extra_header=HEADER)
    result = roundtrip(project, url, from_revision="r1")
    assert result.failures == [] and result.seed_limitations == [], result.model_dump_json(indent=1)
    assert result.seed.tables["dashboards"] > 0  # the rows were there to parse
    assert result.verdict == "proceed", [f.message for f in result.findings if f.severity != "info"]
    assert_clean(result, url)
