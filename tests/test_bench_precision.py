"""The precision benchmark (bench/bench_precision.py) meets its goals on the labelled migrations:
no false escalation on a purely additive revision, and at least 90% precision at error severity."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_precision", BENCH / "bench_precision.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_precision"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_labelled_migration_exists_and_every_migration_is_labelled():
    labels = json.loads((BENCH / "precision_cases" / "labels.json").read_text())
    files = {p.name for p in (BENCH / "precision_cases").glob("p*.py")}
    assert files == {k for k in labels if not k.startswith("_")}
    assert len(files) >= 30


def test_precision_goals_are_met(capsys):
    assert load_bench().main([]) == 0
    out = capsys.readouterr().out
    assert "falsely escalated: 0" in out and "error precision" in out
