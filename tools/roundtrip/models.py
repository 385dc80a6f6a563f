"""test_roundtrip's result: the typed parts of a rehearsal report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from alembic_mcp.tools.core.verdict import VerdictResult
from alembic_mcp.tools.roundtrip.app_check import AppCheckReport
from alembic_mcp.tools.roundtrip.deploy_mode import DeployMode
from alembic_mcp.tools.roundtrip.failures import FailureReport, SeedLimitation, StopReport

DataFrom = Literal["seed", "target"]


class StepResult(BaseModel):
    revision: str
    message: str = ""
    file: str | None = None
    status: str = Field(description="ok, failed in <phase>, or not-run.")
    upgrade_s: float | None = None
    downgrade_s: float | None = None
    reupgrade_s: float | None = None
    check_s: float | None = Field(default=None, description="Time spent on snapshots and data checks.")
    schema_changes: list[str] = Field(default_factory=list, description="What the upgrade changed.")


class Difference(BaseModel):
    revision: str
    phase: Literal["downgrade", "re-upgrade"] = Field(
        description="downgrade: compared with the schema before the upgrade; "
        "re-upgrade: compared with the first upgrade."
    )
    kind: str
    object: str
    table: str | None = None
    column: str | None = None
    change: Literal["missing", "unexpected", "changed"]
    message: str


class DataLoss(BaseModel):
    revision: str
    kind: Literal["not-restored", "dropped-by-downgrade"] = Field(
        description="not-restored: data present before the upgrade is gone or changed after the downgrade; "
        "dropped-by-downgrade: data in a table/column the upgrade created is dropped by the downgrade."
    )
    table: str
    column: str | None = None
    rows_before: int
    rows_after: int
    rows_changed: int | None = Field(
        default=None, description="rows whose value differs after the downgrade (counted in tables up to 5,000 rows)"
    )
    message: str


class LockTaken(BaseModel):
    revision: str
    relation: str
    kind: Literal["table", "index"]
    table: str
    mode: str = Field(description="PostgreSQL lock mode as pg_locks names it, e.g. ShareLock.")
    sql_mode: str = Field(description="The mode as LOCK TABLE names it, e.g. SHARE.")
    blocks: str = Field(description="What other sessions cannot do while the step holds it.")


class Rewrite(BaseModel):
    revision: str
    relation: str
    kind: Literal["table", "index"]
    table: str


class DriftItem(BaseModel):
    kind: str
    table: str | None = None
    column: str | None = None
    message: str


class ScratchReport(BaseModel):
    url: str | None = Field(default=None, description="Scratch database URL, password masked.")
    backend: str | None = None
    dropped: bool | Literal["pending"] = Field(
        default=False,
        description="true: dropped before this reply; 'pending': being dropped right after it (the server "
        "waits for that before exiting; if it dies first, the next rehearsal on that server drops it).",
    )


class SeedReport(BaseModel):
    data_from: DataFrom
    rows_per_table: int | None = Field(
        default=None, description="data_from='seed': the rows asked per table (seed_rows); null for a copy."
    )
    tables: dict[str, int] = Field(default_factory=dict, description="Generated seed rows inserted per table.")
    skipped: dict[str, str] = Field(default_factory=dict, description="Tables left unseeded, with the reason.")
    rows_copied: dict[str, int] = Field(
        default_factory=dict,
        description="data_from='target': rows per table in the copy of the target, every table (0: empty there).",
    )
    rows_at_start: int = Field(
        default=0,
        description="Rows in all tables when the rehearsal began (seeded, copied or the history's own); "
        "0: no data was checked.",
    )


class TestRoundtripResult(VerdictResult):
    revisions: list[str] = Field(default_factory=list, description="Revisions tested, in upgrade order.")
    from_revision: list[str] = Field(default_factory=list, description="Where the scratch database started.")
    steps: list[StepResult] = Field(default_factory=list)
    steps_planned: int = Field(default=0, description="Revisions the rehearsal was to upgrade, downgrade, upgrade.")
    steps_run: int = Field(default=0, description="Of those, the ones whose three steps all ran (status ok).")
    differences: list[Difference] = Field(default_factory=list)
    data_loss: list[DataLoss] = Field(default_factory=list)
    locks: list[LockTaken] = Field(default_factory=list)
    rewrites: list[Rewrite] = Field(default_factory=list)
    drift: list[DriftItem] = Field(default_factory=list)
    drift_checked: bool = False
    lock_trace: str = Field(default="off", description="on, off, not PostgreSQL, or why it was unavailable.")
    transaction_mode: str = Field(
        default="per-step",
        description="per-step: each step committed on its own; single: env.py wraps all steps in one "
        "transaction (a failure then rolls back everything, and locks cannot be traced per step).",
    )
    seed: SeedReport | None = None
    failure: FailureReport | None = Field(default=None, description="The first of ``failures``.")
    failures: list[FailureReport] = Field(
        default_factory=list, description="Every failed step: the rehearsal goes on past each one where it can."
    )
    seed_limitations: list[SeedLimitation] = Field(
        default_factory=list,
        description="Steps that failed on seed rows only (they passed when re-run without them): not defects.",
    )
    stopped: StopReport | None = Field(default=None, description="Where and why the rehearsal stopped early.")
    deploy: DeployMode | None = Field(
        default=None, description="How env.py runs the migrations in a deploy, and what differs in the rehearsal."
    )
    rebuilds: list[str] = Field(
        default_factory=list, description="Times the scratch schema was rebuilt from base to go on, and why."
    )
    scratch_database: ScratchReport = Field(default_factory=ScratchReport)
    app_check: AppCheckReport | None = Field(
        default=None, description="app_check_command run at head on the scratch database (None: not run)."
    )
    total_s: float = 0.0


__test__ = False  # not a pytest test class, despite the name
