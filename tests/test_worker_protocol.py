"""The typed worker protocol: requests survive JSON, the op registry matches the ops, bad arguments are named."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import anyio
import pytest

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.worker.protocol import (
    OPS,
    MergeArgs,
    ProjectSpec,
    RuntimeInfo,
    WorkerReply,
    WorkerRequest,
    op_args,
)
from alembic_mcp.tools.worker.runner import WorkerError, run_worker

OPS_DIR = Path(__file__).resolve().parent.parent / "tools" / "worker" / "ops"


def test_request_and_reply_survive_json():
    request = WorkerRequest(
        op="merge",
        project=ProjectSpec(project_dir="/p", alembic_ini="/p/alembic.ini"),
        result_path="/tmp/r.json",
        args=MergeArgs(heads=["a", "b"], message="join"),
        env={"DATABASE_URL": "sqlite://"},
    )
    assert WorkerRequest.from_dict(json.loads(request.to_json())) == request
    reply = WorkerReply(ok=True, runtime=RuntimeInfo("/p/python", "3.11.7", "1.9.4", "1.4.54"), result={"x": 1})
    assert WorkerReply.from_json(reply.to_json()) == reply


def test_every_registered_op_is_a_module_with_run():
    for op in OPS:
        tree = ast.parse((OPS_DIR / f"{op}.py").read_text())
        assert any(isinstance(node, ast.FunctionDef) and node.name == "run" for node in tree.body), op


@pytest.mark.parametrize(
    ("op", "args", "named"),
    [("no_such_op", {}, "no_such_op"), ("history", {"check_env": True, "bogus": 1}, "bogus"), ("merge", {}, "heads")],
)
def test_bad_op_or_arguments_are_named(op, args, named):
    with pytest.raises((ValueError, TypeError), match=named):
        op_args(op, args)


def test_worker_names_an_unknown_argument(example_project):
    project = load_project(example_project, environ={})
    with pytest.raises(WorkerError, match="bogus"):
        anyio.run(lambda: run_worker(project, "history", {"check_env": False, "bogus": 1}))
