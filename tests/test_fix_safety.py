"""Every rule's fix is safe to apply literally (issue 18 item 1).

For each triggering case of a rule whose fix is code, the fix is applied the way the rule says (replacing
the statement, adding to downgrade(), ...) and the result must parse, keep every argument of the original
operation (names, ondelete, types, server defaults), and review clean of that rule. A representative
subset is rehearsed on PostgreSQL with test_roundtrip. Rules whose fix is advice (options a human picks,
or prose) must not hand the agent code to paste: their fix does not parse as Python, or the finding
escalates to a human.
"""

from __future__ import annotations

import ast
import re

import anyio
import pytest

from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review.autofix.edits import strip_comments
from alembic_mcp.tools.review.rules import lint_migration
from alembic_mcp.tools.review.rules.registry import Case, Hit, all_cases, all_rules, case_source

# How each rule's fix is applied: replace the flagged statement, add it to downgrade() or to upgrade(),
# put it first in upgrade(), or replace downgrade() whole.
FIX_MODES = {
    "empty-downgrade": "replace-downgrade",
    "downgrade-not-inverse": "add-to-downgrade",
    "add-column-required": "replace",
    "set-not-null": "replace",
    "volatile-default": "replace",
    "enum-change": "replace",
    "create-index-non-concurrent": "replace",
    "concurrent-in-transaction": "replace",
    "drop-index-non-concurrent": "replace",
    "fk-not-valid-missing": "replace",
    "add-unique-constraint": "replace",
    "unnamed-constraint": "replace",
    "fk-missing-index": "add-to-upgrade",
    "missing-lock-timeout": "prepend-to-upgrade",
    "enum-type-missing": "insert-before",
    "cast-needs-using": "replace",
    "enum-type-not-dropped": "replace",
}
# Arguments a rule's fix changes on purpose (the point of the fix), per rule.
CHANGED = {
    "add-column-required": {"nullable=False"},  # added nullable, then set NOT NULL after the backfill
    "volatile-default": {"nullable=False"},  # likewise
    "enum-change": {"type_=", "existing_type="},  # the type gains the values instead
}
# Placeholders a fix leaves for the value a human or agent chooses (the finding says so).
PLACEHOLDERS = {"value=...": "value='x'"}
REHEARSED = {
    "fk-not-valid-missing",
    "add-column-required",
    "set-not-null",
    "create-index-non-concurrent",
    "add-unique-constraint",
    "unnamed-constraint",
    "missing-lock-timeout",
}


def _hits(source: str, rule: str, backend: str) -> list[Hit]:
    return [h for h in lint_migration(parse_source(source), "m.py", backend).hits if h.finding.rule == rule]


def _fixable_cases() -> list[Case]:
    return [c for c in all_cases() if c.triggers and c.rule in FIX_MODES]


def _case_id(case: Case) -> str:
    return f"{case.rule}-{all_cases().index(case)}"


def _function_range(source: str, name: str) -> tuple[int, int]:
    func = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name)
    return func.lineno, func.end_lineno or func.lineno


def _insert(lines: list[str], at: int, code: str, indent: str) -> None:
    lines[at:at] = [indent + line if line.strip() else line for line in code.splitlines()]


def apply_fix(source: str, hit: Hit, mode: str) -> str:
    """The source with the hit's fix applied as its rule says."""
    fix = hit.finding.fix or ""
    for placeholder, value in PLACEHOLDERS.items():
        fix = fix.replace(placeholder, value)
    lines = source.splitlines()
    mode = "insert-before" if hit.data.get("where") == "insert-before" else mode  # the hit says where
    if mode == "insert-before":
        start = hit.span[0]
        _insert(lines, start - 1, fix, re.match(r"\s*", lines[start - 1]).group(0))
    elif mode == "replace":
        start, end = hit.span
        indent = re.match(r"\s*", lines[start - 1]).group(0)
        del lines[start - 1 : end]
        _insert(lines, start - 1, fix, indent)
    elif mode == "replace-downgrade":
        start, end = _function_range(source, "downgrade")
        del lines[start - 1 : end]
        _insert(lines, start - 1, fix, "")
    elif mode in ("add-to-downgrade", "add-to-upgrade"):
        start, _ = _function_range(source, "downgrade" if mode == "add-to-downgrade" else "upgrade")
        code = "\n".join(line for line in fix.splitlines() if not line.startswith("# add to"))
        _insert(lines, start, code, "    ")
    elif mode == "prepend-to-upgrade":
        start, _ = _function_range(source, "upgrade")
        _insert(lines, start, fix, "    ")
    return "\n".join(lines) + "\n"


def is_code(fix: str | None) -> bool:
    try:
        ast.parse(fix or "")
    except SyntaxError:
        return False
    return True


def apply_all(case: Case) -> tuple[str, list[Hit]]:
    """Apply every code fix of the case's rule (advice in prose is not applied), the last one first so
    earlier spans stay valid; returns the fixed source and the hits whose fix was applied."""
    source = case_source(case.upgrade, case.downgrade, case.header)
    applied = [h for h in _hits(source, case.rule, case.backend) if is_code(h.finding.fix)]
    fixed = source
    for hit in sorted(applied, key=lambda h: h.span[0], reverse=True):
        fixed = apply_fix(fixed, hit, FIX_MODES[case.rule])
    return fixed, applied


def _arguments(call: ast.Call, changed: set[str]) -> set[str]:
    """Every literal argument and keyword of an operation, its nested calls (sa.Column, sa.ForeignKey)
    too; SQL text by its words (a fix may add NOT VALID or CONCURRENTLY to it)."""
    out: set[str] = set()
    for node in ast.walk(call):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " " in node.value:
            out |= {word for word in re.findall(r"[\w.]+", node.value)}
        elif isinstance(node, ast.Constant) and node.value is not None and node.value is not True:
            out.add(repr(node.value))
        if isinstance(node, ast.keyword) and node.arg:
            item = f"{node.arg}={ast.unparse(node.value)}"
            if not any(item.startswith(prefix) for prefix in changed):
                out.add(item)
    return out


def _original_calls(source: str, hits: list[Hit]) -> list[ast.Call]:
    tree = ast.parse(source)
    lines = {h.span[0] for h in hits}
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and n.lineno in lines and isinstance(n.func, ast.Attribute) and n.func.attr != "f"
    ]


@pytest.mark.parametrize("case", _fixable_cases(), ids=_case_id)
def test_fix_applied_literally_parses_keeps_arguments_and_reviews_clean(case: Case):
    source = case_source(case.upgrade, case.downgrade, case.header)
    fixed, applied = apply_all(case)
    advice = [h for h in _hits(source, case.rule, case.backend) if h not in applied]
    assert applied or advice, f"{case.rule} did not trigger"
    assert all(not is_code(h.finding.fix) for h in advice)  # what is not applied is prose, not code to paste
    normalized = ast.unparse(ast.parse(fixed))  # parses
    if FIX_MODES[case.rule] == "replace":
        for call in _original_calls(source, applied):
            missing = {a for a in _arguments(call, CHANGED.get(case.rule, set())) if a not in normalized}
            assert not missing, f"{case.rule}'s fix drops {missing}:\n{fixed}"
    # clean of the rule: only advice the fix did not address, or information, may remain
    again = [
        h.finding.message
        for h in _hits(fixed, case.rule, case.backend)
        if h.finding.severity != "info" and h.finding.message not in {a.finding.message for a in advice}
    ]
    assert not again, f"{case.rule} still triggers after its fix:\n{fixed}\n{again}"


def test_rules_without_a_literal_fix_do_not_hand_out_code_as_an_error():
    """An error whose fix is not applied literally is advice (prose) or escalates to a human."""
    for rule in all_rules():
        if rule.id in FIX_MODES or rule.severity != "error":
            continue
        case = next(c for c in all_cases() if c.rule == rule.id and c.triggers)
        source = case_source(case.upgrade, case.downgrade, case.header)
        for hit in _hits(source, rule.id, case.backend):
            try:
                ast.parse(hit.finding.fix or "")
                code = True
            except SyntaxError:
                code = False
            assert not code or hit.escalation is not None, (rule.id, hit.finding.fix)


def test_fk_fix_keeps_ondelete_and_names_the_constraint_it_validates():
    case = next(c for c in all_cases() if c.rule == "fk-not-valid-missing" and "RESTRICT" in c.upgrade)
    fixed, _ = apply_all(case)
    assert "ondelete='RESTRICT'" in fixed and "VALIDATE CONSTRAINT fk_assignments_rotation_id_rotations" in fixed
    assert "VALIDATE CONSTRAINT None" not in fixed


# ------------------------------------------------------------------ rehearsed on PostgreSQL (slow)

# Triggering migrations fitted to the example project's schema (persons, rotations, assignments): each
# rule's fixes applied literally, then upgrade/downgrade rehearsed by test_roundtrip on seeded data.
REHEARSALS = {
    "fk-not-valid-missing": Case(
        "fk-not-valid-missing",
        'op.create_foreign_key(None, "persons", "persons", ["mentor_id"], ["id"], ondelete="SET NULL")',
        'op.drop_constraint(op.f("fk_persons_mentor_id_persons"), "persons", type_="foreignkey")',
    ),
    "add-column-required": Case(
        "add-column-required",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=False))',
        'op.drop_column("persons", "nick")',
    ),
    "set-not-null": Case(
        "set-not-null",
        'op.alter_column("persons", "name", existing_type=sa.String(120), nullable=False)',
        'op.alter_column("persons", "name", existing_type=sa.String(120), nullable=True)',
    ),
    "volatile-default": Case(
        "volatile-default",
        'op.add_column("persons", sa.Column("token", sa.String(36), nullable=False, '
        'server_default=sa.text("gen_random_uuid()::text")))',
        'op.drop_column("persons", "token")',
    ),
    "create-index-non-concurrent": Case(
        "create-index-non-concurrent",
        'op.create_index("ix_persons_name", "persons", ["name"])',
        'op.drop_index("ix_persons_name", table_name="persons")',
    ),
    "add-unique-constraint": Case(
        "add-unique-constraint",
        'op.create_unique_constraint("uq_persons_name", "persons", ["name"])',
        'op.drop_constraint("uq_persons_name", "persons", type_="unique")',
    ),
    "unnamed-constraint": Case(
        "unnamed-constraint",
        'op.create_unique_constraint(None, "persons", ["name"])',
        'op.drop_constraint(None, "persons", type_="unique")',
    ),
    "missing-lock-timeout": Case(
        "missing-lock-timeout",
        'op.add_column("persons", sa.Column("nick", sa.String(20), nullable=True))',
        'op.drop_column("persons", "nick")',
    ),
}


def _revision_file(source: str, revision: str, down: str) -> str:
    source = source.replace(
        'revision = "r2"\ndown_revision = "r1"', f"revision = {revision!r}\ndown_revision = {down!r}"
    )
    return source.replace(
        "import sqlalchemy as sa", "import sqlalchemy as sa\nfrom sqlalchemy.dialects import postgresql", 1
    )


# an earlier revision a rehearsal case builds on: (upgrade, downgrade)
SETUP = {
    "fk-not-valid-missing": (
        'op.add_column("persons", sa.Column("mentor_id", sa.Integer(), nullable=True))',
        'op.drop_column("persons", "mentor_id")',
    ),
    "set-not-null": (
        'op.alter_column("persons", "name", existing_type=sa.String(120), nullable=True)',
        'op.alter_column("persons", "name", existing_type=sa.String(120), nullable=False)',
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("rule", sorted(REHEARSALS))
def test_fixed_migration_rehearses_on_postgresql(rule: str, example_project, pg_url):
    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.roundtrip.tool import test_roundtrip as run_roundtrip

    case = REHEARSALS[rule]
    fixed, applied = apply_all(case)
    assert applied, f"{rule} did not trigger on its rehearsal case"
    assert not _hits(fixed, rule, case.backend) or all(
        h.finding.severity == "info" for h in _hits(fixed, rule, "postgresql")
    )
    versions = example_project / "migrations" / "versions"
    down = "b2e1d1ce0002"
    if rule in SETUP:
        setup = case_source(*SETUP[rule])
        (versions / "f0f0f0f00003_setup.py").write_text(_revision_file(setup, "f0f0f0f00003", down))
        down = "f0f0f0f00003"
    (versions / "f1f1f1f10004_fixed.py").write_text(_revision_file(fixed, "f1f1f1f10004", down))
    project = load_project(example_project, {"database_url": pg_url})
    result = anyio.run(lambda: run_roundtrip(project, from_revision=down))
    # the models do not follow these test migrations: drift from them is expected, failures are not
    failures = [(f.rule, f.message) for f in result.findings if f.severity == "error" and f.rule != "model-drift"]
    assert not failures, (rule, fixed, failures)


# ------------------------------------------------------------------ a foreign key column's backfill (issue 18)

FK_REPLACES_NAME = (
    'op.add_column("assignments", sa.Column("rotation_id", sa.Integer(), nullable=False))\n'
    'op.create_foreign_key("fk_a_r", "assignments", "rotations", ["rotation_id"], ["id"], ondelete="RESTRICT")\n'
    'op.drop_column("assignments", "rotation_name")'
)


@pytest.mark.parametrize(
    ("backend", "update"),
    [
        (
            "postgresql",
            "UPDATE assignments SET rotation_id = r.id FROM rotations r WHERE r.name = assignments.rotation_name",
        ),
        (
            "sqlite",
            "UPDATE assignments SET rotation_id = r.id FROM rotations r WHERE r.name = assignments.rotation_name",
        ),
        (
            "mariadb",
            "UPDATE assignments JOIN rotations r ON r.name = assignments.rotation_name "
            "SET assignments.rotation_id = r.id",
        ),
    ],
)
def test_a_foreign_key_column_replacing_a_name_is_backfilled_by_a_lookup(backend, update):
    """The migration shows which column the new key replaces: the fix is the lookup, never a constant."""
    source = case_source(FK_REPLACES_NAME, "pass")
    (hit,) = _hits(source, "add-column-required", backend)
    fix = hit.finding.fix or ""
    assert f"op.execute({update!r})" in fix
    assert ":value" not in fix and "<constant>" not in fix


def test_a_foreign_key_column_without_its_old_column_asks_a_human():
    """Nothing in the migration says which parent row a row references: no constant, a human decides."""
    source = case_source(FK_REPLACES_NAME.replace('\nop.drop_column("assignments", "rotation_name")', ""), "pass")
    (hit,) = _hits(source, "add-column-required", "postgresql")
    fix = hit.finding.fix or ""
    assert ":value" not in fix and "<constant>" not in fix and "a human's decision" in fix
    # the code it leaves to paste adds nullable and sets NOT NULL; the lookup itself is a comment to complete
    assert "UPDATE" not in strip_comments(fix)


def test_autofix_leaves_a_foreign_key_backfill_to_the_agent():
    from alembic_mcp.tools.review.autofix.plan import AUTO_FIXABLE, FK_LOOKUP, FixContext, fix_source

    source = case_source(FK_REPLACES_NAME, "pass")
    fixed = fix_source(source, FixContext("m.py", "postgresql", frozenset(AUTO_FIXABLE), {}))
    assert ("add-column-required", 9, FK_LOOKUP) in fixed.advice
    assert 'sa.Column("rotation_id", sa.Integer(), nullable=False)' in fixed.after


# ------------------------------------------------------------------ drops of filled data are a human's (issue 18)

LATER = re.compile(r"later (release|migration|revision)", re.IGNORECASE)


@pytest.mark.parametrize(
    ("rule", "upgrade", "escalation"),
    [
        ("drop-column", 'op.drop_column("persons", "pgy_level")', "drop-column-with-data"),
        ("drop-table", 'op.drop_table("persons")', "drop-table-with-data"),
    ],
)
def test_drop_advice_escalates_and_never_splits(rule, upgrade, escalation):
    """The skill: a drop of filled data goes to a human; moving it to a later revision is a way around."""
    (hit,) = _hits(case_source(upgrade, "pass"), rule, "postgresql")
    fix = hit.finding.fix or ""
    assert not LATER.search(fix) and escalation in fix and "backup_db(" in fix
    assert "never move it to another revision" in fix


def test_probable_rename_to_a_foreign_key_names_the_parent_and_does_not_split():
    from alembic_mcp.tools.generate.autogen_findings import DetectedOperation, rename_findings

    drop = DetectedOperation(op="drop_column", table="assignments", column="rotation_name", detail={"type": "VARCHAR"})
    add = DetectedOperation(
        op="add_column",
        table="assignments",
        column="rotation_id",
        detail={"type": "INTEGER", "foreign_keys": ["rotations.id"]},
    )
    # rotation_id is too unlike rotation_name to be taken for a rename: a closer name shows the finding
    (finding,) = rename_findings([drop, add.model_copy(update={"column": "rotation_nme"})], "postgresql", "m.py")
    fix = finding.fix or ""
    assert finding.severity == "warning" and not LATER.search(fix) and "drop-column-with-data" in fix
    assert "UPDATE assignments SET rotation_nme = p.id FROM rotations p WHERE p.<column matching rotation_name>" in fix


# ------------------------------------------------------------------ VALIDATE after NOT VALID (issue 18)


@pytest.mark.parametrize("case", [c for c in _fixable_cases() if c.rule == "fk-not-valid-missing"], ids=_case_id)
def test_validate_is_never_code_beside_the_not_valid(case):
    """In one revision (one transaction) VALIDATE saves no lock time: the fix leaves it to a new revision."""
    for hit in _hits(case_source(case.upgrade, case.downgrade, case.header), case.rule, case.backend):
        fix = hit.finding.fix or ""
        assert "VALIDATE" not in strip_comments(fix) and "autocommit_block" not in fix
        assert "in a new revision after this one" in fix


def test_a_validate_revision_draws_no_findings():
    source = case_source(
        "op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
        'op.execute("ALTER TABLE assignments VALIDATE CONSTRAINT fk_assignments_rotation_id_rotations")',
        "pass",
    )
    assert [h.finding.rule for h in lint_migration(parse_source(source), "m.py", "postgresql").hits] == []


def test_the_rehearsals_not_null_advice_never_offers_a_constant_for_a_key():
    """The rows a lookup left NULL (issue 18): the advice asks a human, no `SET rotation_id = ...` to paste."""
    from alembic_mcp.tools.roundtrip.diagnosis import explain

    facts = {"table": "assignments", "column": "rotation_id", "operation": "AlterColumnOp", "violating_rows": 3}
    words = explain("not-null-violation", facts, "upgrade", "r2", "postgresql")
    assert "SET rotation_id = ..." not in words["fix"] and "SET rotation_id = <that value>" in words["fix"]
    assert words["fix"].startswith("Decide with a human") and "never one constant" in words["fix"]


@pytest.mark.parametrize("env_py", ["single", "per-migration"])
def test_the_rehearsals_validate_advice_follows_the_deploy(env_py):
    """A NOT VALID named through op.f() is matched to its VALIDATE; the advice never offers an autocommit
    block (it would commit a one-transaction deploy early)."""
    from alembic_mcp.tools.roundtrip.deploy_mode import DeployMode, deploy_findings

    create = (
        "op.create_foreign_key(op.f('fk_a_r'), 'assignments', 'rotations', ['rotation_id'], ['id'], "
        "postgresql_not_valid=True)"
    )
    validate = 'op.execute("ALTER TABLE assignments VALIDATE CONSTRAINT fk_a_r")'
    mode = DeployMode(env_py=env_py, rehearsal="per-step")
    separate = deploy_findings(mode, {"r1": ("r1.py", create), "r2": ("r2.py", validate)})
    together = deploy_findings(mode, {"r1": ("r1.py", create + "\n" + validate)})
    assert [f.rule for f in together] == ["deploy-validate-same-transaction"]
    assert [f.rule for f in separate] == (["deploy-validate-same-transaction"] if env_py == "single" else [])
    for finding in separate + together:
        assert "autocommit" not in (finding.fix or "")
    if env_py == "single":
        # already in a revision of its own (agent run, issue 18): never "move the VALIDATE" again
        fix = separate[0].fix or ""
        assert "already in a revision after r1" in fix and "alembic upgrade r1," in fix and "Move" not in fix
    else:
        assert "Move the VALIDATE to a new revision" in (together[0].fix or "")


def test_autofix_restores_a_replaced_column_in_downgrade_by_the_reverse_lookup():
    from alembic_mcp.tools.review.autofix.plan import AUTO_FIXABLE, FK_LOOKUP, FixContext, fix_source

    upgrade = FK_REPLACES_NAME
    downgrade = (
        'op.add_column("assignments", sa.Column("rotation_name", sa.String(120), nullable=False))\n'
        'op.drop_constraint("fk_a_r", "assignments", type_="foreignkey")\n'
        'op.drop_column("assignments", "rotation_id")'
    )
    fixed = fix_source(case_source(upgrade, downgrade), FixContext("m.py", "postgresql", frozenset(AUTO_FIXABLE), {}))
    assert [(e.rule, e.where) for e, _, _ in fixed.applied if e.rule == "add-column-required"] == [
        ("add-column-required", "replace")
    ]
    assert ("add-column-required", 9, FK_LOOKUP) in fixed.advice  # the upgrade's lookup stays the agent's
    down = fixed.after[fixed.after.index("def downgrade") :]
    assert down.index("nullable=True") < down.index("UPDATE assignments SET rotation_name = r.name FROM rotations r")
    assert down.index("WHERE r.id = assignments.rotation_id") < down.index('drop_column("assignments", "rotation_id")')


def test_an_autocommit_block_after_the_revisions_own_work_is_the_rerun_hazard():
    """Agent run (issue 18): the add committed by the block while alembic_version names the old revision."""
    from alembic_mcp.tools.roundtrip.deploy_mode import DeployMode, deploy_findings

    block = (
        "with op.get_context().autocommit_block():\n"
        "    op.create_index('ix', 'assignments', ['rotation_id'], postgresql_concurrently=True)"
    )
    lock = "op.execute(\"SET LOCAL lock_timeout = '5s'\")"
    add = "op.add_column('assignments', sa.Column('rotation_id', sa.Integer()))"
    mode = DeployMode(env_py="single", rehearsal="per-step")
    mixed = deploy_findings(mode, {"r0": ("r0.py", "pass"), "r1": ("r1.py", case_source(add + "\n" + block, "pass"))})
    alone = deploy_findings(mode, {"r0": ("r0.py", add), "r1": ("r1.py", case_source(lock + "\n" + block, "pass"))})
    assert [(f.rule, f.severity) for f in mixed] == [("deploy-autocommit-commits-early", "warning")]
    assert "re-run repeats those statements" in mixed[0].message and "revision of its own" in (mixed[0].fix or "")
    assert [(f.rule, f.severity) for f in alone] == [("deploy-autocommit-commits-early", "info")]


def test_an_autocommit_revision_between_not_valid_and_validate_commits_the_constraint_first():
    """One-transaction deploy: the index revision's block commits r1's NOT VALID, so r3's VALIDATE runs apart."""
    from alembic_mcp.tools.roundtrip.deploy_mode import DeployMode, deploy_findings

    create = "op.execute('ALTER TABLE t ADD CONSTRAINT ck_x CHECK (x > 0) NOT VALID')"
    block = (
        "with op.get_context().autocommit_block():\n    op.create_index('ix', 't', ['x'], postgresql_concurrently=True)"
    )
    validate = 'op.execute("ALTER TABLE t VALIDATE CONSTRAINT ck_x")'
    mode = DeployMode(env_py="single", rehearsal="per-step")
    between = {"r1": ("r1.py", create), "r2": ("r2.py", case_source(block, "pass")), "r3": ("r3.py", validate)}
    after = {"r1": ("r1.py", create), "r2": ("r2.py", validate), "r3": ("r3.py", case_source(block, "pass"))}
    assert [f.rule for f in deploy_findings(mode, between)] == ["deploy-autocommit-commits-early"]
    assert [f.rule for f in deploy_findings(mode, after)] == [
        "deploy-validate-same-transaction",
        "deploy-autocommit-commits-early",
    ]


def test_autofix_builds_the_index_of_a_revision_that_changes_more_in_a_new_revision():
    """Issue 18 item 4: no autocommit block beside the add and backfill; the index and its drop move together."""
    from alembic_mcp.tools.review.autofix.plan import FixContext, fix_source

    upgrade = (
        'op.add_column("assignments", sa.Column("rotation_id", sa.Integer(), nullable=True))\n'
        'op.create_index("ix_assignments_rotation_id", "assignments", ["rotation_id"], unique=True)'
    )
    downgrade = (
        'op.drop_index("ix_assignments_rotation_id", table_name="assignments")\n'
        'op.drop_column("assignments", "rotation_id")'
    )
    ctx = FixContext("m.py", "postgresql", frozenset({"create-index-non-concurrent"}), {}, head=True)
    fixed = fix_source(case_source(upgrade, downgrade), ctx)
    assert "create_index" not in fixed.after and "drop_index" not in fixed.after
    assert "autocommit_block" not in fixed.after and 'op.drop_column("assignments", "rotation_id")' in fixed.after
    (new,) = fixed.new_revisions
    source = new.source("m0")
    assert "unique=True" in source and source.count("postgresql_concurrently=True") == 2
    assert source.count("SET lock_timeout = '5s'") == 2 and source.count("RESET lock_timeout") == 2
    rules = {h.finding.rule for h in lint_migration(parse_source(source), "n.py", "postgresql").hits}
    assert not rules & {"create-index-non-concurrent", "concurrent-in-transaction", "drop-index-non-concurrent"}
    not_head = fix_source(case_source(upgrade, downgrade), FixContext("m.py", "postgresql", ctx.wanted, {}))
    assert not_head.after == case_source(upgrade, downgrade) and not_head.new_revisions == []
    assert any("revisions already follow" in why for _, _, why in not_head.advice)


def test_a_drop_after_a_carrying_update_says_where_the_values_went_and_still_escalates():
    """The agent run: "its data is gone for good" beside a lookup that kept it in rotation_id. The drop still
    goes to a human (the skill's rule), but the message names the UPDATE and what it cannot keep."""
    upgrade = (
        'op.add_column("assignments", sa.Column("rotation_id", sa.Integer(), nullable=True))\n'
        'op.execute("UPDATE assignments SET rotation_id = r.id FROM rotations r '
        'WHERE r.name = assignments.rotation_name")\n'
        'op.drop_column("assignments", "rotation_name")'
    )
    (hit,) = _hits(case_source(upgrade, "pass"), "drop-column", "postgresql")
    assert "The UPDATE at line" in hit.finding.message and "into rotation_id" in hit.finding.message
    assert hit.escalation is not None  # only a human clears the drop of a filled column
    constant = upgrade.replace(
        "rotation_id = r.id FROM rotations r WHERE r.name = assignments.rotation_name", "rotation_id = 1"
    )
    (plain,) = _hits(case_source(constant, "pass"), "drop-column", "postgresql")
    assert "The UPDATE at line" not in plain.finding.message  # a constant carries nothing of the dropped column
