"""The per-dialect table of type changes done without a table rewrite (tools/review/rules/casts.py)."""

from __future__ import annotations

import ast

import pytest

from alembic_mcp.tools.review.rules.casts import no_rewrite, read_type


def expr(code: str) -> ast.expr:
    return ast.parse(code, mode="eval").body


NO_REWRITE = [
    ("postgresql", "sa.TEXT()", "sa.String()"),
    ("postgresql", "sa.Text()", "sa.VARCHAR()"),
    ("postgresql", "sa.String(50)", "sa.Text()"),
    ("postgresql", "sa.String(50)", "sa.String(80)"),
    ("postgresql", "sa.String(50)", "sa.String()"),
    ("postgresql", "sa.VARCHAR(length=50)", "sa.Unicode(50)"),
    ("postgresql", "sa.Numeric(10, 2)", "sa.Numeric(12, 2)"),
    ("postgresql", "sa.Numeric(10, 2)", "sa.Numeric()"),
    ("postgresql", "postgresql.CIDR()", "postgresql.INET()"),
    ("postgresql", "postgresql.TEXT()", "sa.Text()"),
    ("mysql", "sa.String(20)", "sa.String(60)"),
    ("mysql", "sa.String(100)", "sa.String(255)"),
    ("mysql", "sa.String(300)", "sa.String(1000)"),
    ("sqlite", "sa.String(20)", "sa.Text()"),
]
REWRITE = [
    ("postgresql", "sa.Text()", "sa.String(50)"),  # a length limit added: every value is checked
    ("postgresql", "sa.String(80)", "sa.String(50)"),
    ("postgresql", "sa.Integer()", "sa.BigInteger()"),
    ("postgresql", "sa.Numeric(10, 2)", "sa.Numeric(12, 4)"),
    ("postgresql", "sa.Numeric(12, 2)", "sa.Numeric(10, 2)"),
    ("postgresql", "sa.Numeric()", "sa.Numeric(10, 2)"),
    ("postgresql", "sa.String(10)", "sa.Integer()"),
    ("postgresql", "postgresql.INET()", "postgresql.CIDR()"),
    ("postgresql", "sa.JSON()", "postgresql.JSONB()"),
    ("mysql", "sa.String(60)", "sa.String(64)"),  # the length prefix grows to 2 bytes under utf8mb4
    ("mysql", "sa.String(200)", "sa.String(300)"),
    ("mysql", "sa.String(50)", "sa.Text()"),
    ("mysql", "sa.Numeric(10, 2)", "sa.Numeric(12, 2)"),
]


@pytest.mark.parametrize(("dialect", "old", "new"), NO_REWRITE)
def test_conversions_done_in_the_catalogue(dialect: str, old: str, new: str):
    assert no_rewrite(expr(old), expr(new), dialect)


@pytest.mark.parametrize(("dialect", "old", "new"), REWRITE)
def test_conversions_that_rewrite(dialect: str, old: str, new: str):
    assert not no_rewrite(expr(old), expr(new), dialect)


def test_an_unstated_old_type_counts_as_a_rewrite():
    assert not no_rewrite(None, expr("sa.Text()"), "postgresql")
    assert read_type(expr("MyCustomType()")) is None


def test_read_type_parameters():
    assert read_type(expr("sa.Numeric(precision=10, scale=2)")).precision == 10
    assert read_type(expr("sa.String(length=7)")).length == 7
