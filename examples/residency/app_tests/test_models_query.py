"""The residency app's own small test suite: every model can be queried on the database in DATABASE_URL.

With ``app_check_command = "python -m pytest -q app_tests"`` set (not set in this example's pyproject.toml;
bare ``pytest`` would not put the project folder on the import path), alembic-mcp runs it on the rehearsal's
scratch database at head, so it checks that the migrations produce the schema the models expect.
"""

import os

import pytest
from residency.models import Base
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool


@pytest.fixture
def session():
    engine = create_engine(os.environ["DATABASE_URL"], poolclass=NullPool)
    with Session(engine) as db:
        yield db
    engine.dispose()


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_every_model_table_can_be_queried(session, table):
    columns = Base.metadata.tables[table].columns
    session.execute(select(*columns).limit(1)).all()
