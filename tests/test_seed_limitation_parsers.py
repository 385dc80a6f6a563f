"""A migration's own decoder failing on generated values is a seed limitation (when the step passes without
seed rows): zlib of airflow's compressed DAG data, base64 of superset's encrypted columns, int() of text."""

from __future__ import annotations

import base64
import zlib

import pytest

from alembic_mcp.tools.worker.ops.recovery import seed_only


def _failure_of(call) -> dict:
    try:
        call()
    except Exception as exc:  # what step_failure records of it
        error_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
        return {"mode": "migration-code-error", "error_type": error_type, "error": str(exc)}
    raise AssertionError("did not raise")


@pytest.mark.parametrize(
    "call",
    [
        lambda: zlib.decompress(b"seed-1"),
        lambda: base64.b64decode("password_4"),
        lambda: int("level_3"),
        lambda: float("ratio_2"),
    ],
)
def test_a_decoder_failing_on_generated_values_is_a_seed_limitation(call):
    assert seed_only(_failure_of(call))


@pytest.mark.parametrize(
    "call",
    [
        lambda: object().datasource,  # superset c3a8f8611885: latent in the migration, real rows fail too
        lambda: int(None),  # a NULL the schema allows
        lambda: {}["position"],
    ],
)
def test_other_code_errors_stay_the_migrations(call):
    assert not seed_only(_failure_of(call))
