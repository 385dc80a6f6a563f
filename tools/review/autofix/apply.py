"""``review_migration(apply_fixes=true)``: review, fix the selected revisions' files with the mechanical
fixes, then review again and rehearse the changed revisions. Each fix stands on its own: a fix that hides
an escalation or makes the rehearsal fail is put back, the others stay, and the report says which and why.

The checks, cheapest first: every fix written, reviewed and rehearsed at once; when that rehearsal fails,
the original files are rehearsed too: a failure the fixes did not cause (the same failed steps, e.g. a
required column no fix could backfill) keeps the fixes and says the rehearsal could not prove them; a
failure they did cause is traced by adding the fixes one at a time, keeping each one whose checks pass.

Files are written atomically (a temporary file beside the migration, fsync, rename) and only inside the
versions directories; every rewritten file must parse and be a plain module. Whatever interrupts the checks
(an error, a cancelled call) puts every file back before it propagates: no file is left half-written or
holding an unchecked fix. An applied fix may not make an escalation disappear: the second review must keep
every escalation of the first.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from alembic_mcp.tools.core.access import refuse_if_read_only
from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import InvalidArgument
from alembic_mcp.tools.core.verdict import Finding, decide
from alembic_mcp.tools.history.files import history_from_files
from alembic_mcp.tools.review.autofix.model_defaults import model_defaults
from alembic_mcp.tools.review.autofix.plan import (
    ANSWERED_ESCALATION,
    AUTO_FIXABLE,
    HUMAN_CHOICE,
    FileFix,
    FixContext,
    FixKey,
    fix_source,
)
from alembic_mcp.tools.review.autofix.result import AppliedFix, AutofixReport, NotApplied, UndoneFix
from alembic_mcp.tools.review.pipeline import env_sets_lock_timeout
from alembic_mcp.tools.review.result import MECHANICAL_HINT, ReviewedRevision, ReviewMigrationResult
from alembic_mcp.tools.worker.ops.plain_module import NotPlainModule, check_plain_module


@dataclass(frozen=True)
class Rehearsal:
    """What a rehearsal of the changed revisions found: ``failure`` None when it ran cleanly, else what
    failed; ``steps`` the failed steps ("revision direction mode"), to compare two rehearsals."""

    failure: str | None = None
    steps: frozenset[str] = frozenset()
    deploy: str | None = None  # how env.py deploys: per-migration, single, unknown (None: not read)
    not_run: str | None = None  # why nothing could be rehearsed (a production target with no scratch_url)


# Rehearse the revisions from ``from_revision`` (exclusive) to ``revision``. Supplied by the caller (the
# roundtrip tool is a peer family).
Rehearse = Callable[[Project, str, str | None], Awaitable[Rehearsal]]
Review = Callable[[], Awaitable[ReviewMigrationResult]]
# A fix across files: the migration file and the fix's key in it.
FileKey = tuple[str, FixKey]


def _versions_file(project: Project, relative: str) -> Path:
    path = (project.root / relative).resolve()
    if not any(path.is_relative_to(Path(v).resolve()) for v in project.version_locations):
        raise InvalidArgument(f"{relative} is outside the versions directories; autofix writes only there.")
    return path


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text``: a temporary file in the same folder, fsync, rename, fsync the folder."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644  # mkstemp's 0600 would hide it from others
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _heads(project: Project) -> set[str]:
    fast = history_from_files(project)
    return set(fast[0].heads) if fast is not None else set()


# One plan: revision -> (file, its fixes).
Plan = dict[str, tuple[str, FileFix]]


class Written:
    """The files apply_fixes wrote: the originals to put back, the new revisions (split=true) to remove."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.originals: dict[Path, str] = {}
        self.created: set[Path] = set()

    def write(self, plan: Plan) -> str | None:
        """Put ``plan`` in the files (files it leaves unchanged go back to their original); the last new revision."""
        last_new, wanted = None, set()
        for revision, (file, fix) in plan.items():
            path = _versions_file(self.project, file)
            self.originals.setdefault(path, fix.before)
            if path.read_text(encoding="utf-8") != fix.after:
                write_atomically(path, fix.after)
            down = revision
            for new in fix.new_revisions:
                created = path.parent / new.file_name()
                write_atomically(created, new.source(down))
                wanted.add(created)
                down = last_new = new.revision
        for stale in self.created - wanted:
            stale.unlink(missing_ok=True)
        self.created = wanted
        return last_new

    def changed_files(self) -> list[str]:
        changed = [p for p, text in self.originals.items() if p.read_text(encoding="utf-8") != text]
        return sorted(self.project.relative(p) for p in [*changed, *self.created])

    def restore(self) -> None:
        for path, text in self.originals.items():
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                write_atomically(path, text)
        for path in self.created:
            path.unlink(missing_ok=True)
        self.created = set()


@dataclass
class Trial:
    """One set of fixes written and checked: the plan, the second review, the escalations it lost, the rehearsal."""

    keys: list[FileKey]
    plan: Plan
    review: ReviewMigrationResult
    lost: list[str]
    rehearsal: Rehearsal = field(default_factory=Rehearsal)

    def passes(self, baseline: Rehearsal | None) -> bool:
        """No escalation lost, and the rehearsal clean or failing only where the original files fail too."""
        if self.lost:
            return False
        failed = self.rehearsal
        if failed.failure is None:
            return True
        as_before = baseline is not None and baseline.failure is not None and failed.steps <= baseline.steps
        return bool(failed.steps) and (as_before or gets_further(failed, baseline))


# Failures on the values the rows hold: a fix that turns a step's schema failure into one of these got the
# step past what broke it, and the rows left are for a human (the conversion or the data).
DATA_MODES = ("type-mismatch", "not-null-violation", "foreign-key-violation", "unique-violation", "check-violation")


def gets_further(failed: Rehearsal, baseline: Rehearsal | None) -> bool:
    """Every failed step is a failure on row values in a step (revision and direction) where the original
    files fail for another reason."""
    if baseline is None or baseline.failure is None:
        return False
    where = {step.rsplit(" ", 1)[0] for step in baseline.steps}
    return all(
        step.rsplit(" ", 1)[-1] in DATA_MODES and step.rsplit(" ", 1)[0] in where and step not in baseline.steps
        for step in failed.steps
    )


class Fixer:
    """Plans, writes and checks sets of fixes over the revisions ``first`` reviewed."""

    def __init__(
        self, project: Project, first: ReviewMigrationResult, review_again: Review, rehearse: Rehearse, split: bool
    ):
        self.project, self.first, self.review_again, self.rehearse = project, first, review_again, rehearse
        self.split = split
        self.models = model_defaults(project)
        self.written = Written(project)
        self.range: tuple[str, str | None] = ("", None)  # (last changed revision, the one before the first)

    def plan(self, only: set[FileKey] | None = None, skip: Iterable[FileKey] = ()) -> Plan:
        """Every fix (``only`` None) or only those, never the ``skip`` ones, planned on the original files."""
        plan: Plan = {}
        skipped = list(skip)
        for reviewed in self.first.revisions:
            keys = None if only is None else frozenset(key for file, key in only if file == reviewed.file)
            skip_here = frozenset(key for file, key in skipped if file == reviewed.file)
            plan[reviewed.revision] = (reviewed.file, self._fix_revision(reviewed, keys, skip_here))
        return plan

    def _fix_revision(
        self, revision: ReviewedRevision, only: frozenset[FixKey] | None, skip: frozenset[FixKey]
    ) -> FileFix:
        first = self.first
        reported = [f for f in first.findings if f.file == revision.file and f.severity != "info"]
        wanted = frozenset(f.rule for f in reported if f.rule in AUTO_FIXABLE)
        path = _versions_file(self.project, revision.file)
        originals = self.written.originals  # a trial may have rewritten the file: plans start from the original
        source = originals[path] if path in originals else path.read_text(encoding="utf-8")
        head = revision.revision in _heads(self.project)
        ctx = FixContext(
            revision.file,
            first.database.backend,
            wanted,
            self.models,
            env_sets_lock_timeout(self.project),
            split=self.split and head,
            head=head,
            only=only,
            skip=skip,
        )
        fixed = fix_source(source, ctx)
        if fixed.after != source:
            try:
                check_plain_module(fixed.after, revision.file)
            except NotPlainModule as exc:
                fixed.advice.append(("autofix", None, f"the fixed file would not be a plain module: {exc}"))
                fixed.after, fixed.applied, fixed.new_revisions = source, [], []
        return fixed

    def set_range(self, plan: Plan) -> None:
        changed = [r for r in self.first.revisions if plan[r.revision][1].after != plan[r.revision][1].before]
        lower = changed[0].down_revisions[0] if changed[0].down_revisions else None
        self.range = (changed[-1].revision, lower)

    async def check(self, keys: list[FileKey], plan: Plan | None = None) -> Trial:
        plan = plan if plan is not None else self.plan(set(keys))
        last_new = self.written.write(plan)
        second = await self.review_again()
        trial = Trial(keys, plan, second, _lost_escalations(self.first, second, _applied_rules(plan)))
        if not trial.lost:
            trial.rehearsal = await self.rehearse(self.project, last_new or self.range[0], self.range[1])
        return trial

    async def baseline(self) -> Rehearsal:
        """The original files' rehearsal, over the same revisions."""
        self.written.restore()
        return await self.rehearse(self.project, *self.range)


def _applied_rules(plan: Plan) -> list[str]:
    return [edit.rule for _, fix in plan.values() for edit, _, _ in fix.applied]


def _keys(plan: Plan) -> list[FileKey]:
    return [(file, (edit.rule, message)) for file, fix in plan.values() for edit, message, _ in fix.applied]


def _report(first: ReviewMigrationResult, plan: Plan) -> AutofixReport:
    report = AutofixReport(written=False)
    for file, fix in plan.values():
        report.applied += _applied(file, fix, "")
        report.not_applied += [NotApplied(rule=r, file=file, line=n, reason=why) for r, n, why in fix.advice]
    fixed_rules = {(a.file, a.rule) for a in report.applied} | {(n.file, n.rule) for n in report.not_applied}
    for finding in first.findings:
        if finding.severity == "error" and finding.file and (finding.file, finding.rule) not in fixed_rules:
            why = HUMAN_CHOICE.get(finding.rule, "no mechanical fix: follow the finding's fix text")
            report.not_applied.append(NotApplied(rule=finding.rule, file=finding.file, line=finding.line, reason=why))
    return report


def _applied(
    file: str, fix: FileFix, checked: str, revision: str | None = None, deploy: str | None = None
) -> list[AppliedFix]:
    note = _deploy_notes(fix, revision, deploy)
    return [
        AppliedFix(rule=e.rule, file=file, line=e.line, message=m, diff=d, checked=checked, note=note.get(e.rule))
        for e, m, d in fix.applied
    ]


AUTOCOMMIT_NOTE = (
    "env.py runs all pending revisions in one transaction: the autocommit block commits it there, so the revisions "
    "before it stay applied if a later one fails; deploy this revision on its own, or set "
    "transaction_per_migration=True in env.py's context.configure."
)


def _deploy_notes(fix: FileFix, revision: str | None, deploy: str | None) -> dict[str, str]:
    """What a fix's effect depends on, given how env.py deploys, keyed by the rule it fixes."""
    notes = dict.fromkeys(("create-index-non-concurrent", "drop-index-non-concurrent"), AUTOCOMMIT_NOTE)
    notes = notes if deploy == "single" else {}
    moved = ", ".join(n.revision for n in fix.new_revisions if n.slug.startswith("index_"))
    if moved:  # its autocommit block opens its own revision: it commits only complete revisions
        notes["create-index-non-concurrent"] = (
            f"The index is built concurrently in new revision {moved}, after this one: its autocommit block commits "
            "only revisions alembic_version already names, so a re-run after a later failure continues after them."
        )
    validate = _validate_note(fix, revision, deploy)
    return {**notes, "fk-not-valid-missing": validate} if validate else notes


def _validate_note(fix: FileFix, revision: str | None, deploy: str | None) -> str | None:
    """What a VALIDATE moved to its own revision saves, given how env.py deploys."""
    ids = ", ".join(n.revision for n in fix.new_revisions if n.slug.startswith("validate_"))
    if not ids:
        return None
    committed_by = [n.revision for n in fix.new_revisions if n.slug.startswith("index_")]
    if deploy == "per-migration":
        text = f"VALIDATE is in new revision {ids}: env.py commits each revision on its own, so it scans without "
        text += "blocking writes."
    elif deploy == "single" and committed_by:  # index revisions are written first (plan._apply_one)
        text = (
            f"VALIDATE is in new revision {ids}, after index revision {committed_by[0]}, whose autocommit block "
            "commits the deploy's transaction first: the VALIDATE scans without blocking writes."
        )
    elif deploy == "single":
        text = (
            f"VALIDATE is in new revision {ids}, but env.py runs all pending revisions in one transaction: it "
            f"saves lock time only when deployed on its own (alembic upgrade {revision} first, then head) or "
            "with transaction_per_migration=True in env.py's context.configure."
        )
    else:
        text = f"VALIDATE is in new revision {ids}: it saves lock time only when that revision commits on its own "
        text += "(transaction_per_migration=True in env.py, or its own alembic upgrade)."
    return text


def _lost_escalations(first: ReviewMigrationResult, second: ReviewMigrationResult, applied: Iterable[str]) -> list[str]:
    """Escalation rules the second review has fewer of, beyond those an applied fix answers itself."""
    before: Counter[str] = Counter(e.rule for e in first.escalations)
    after: Counter[str] = Counter(e.rule for e in second.escalations)
    before.subtract(ANSWERED_ESCALATION[rule] for rule in applied if rule in ANSWERED_ESCALATION)
    return sorted(rule for rule, count in before.items() if after[rule] < count)


def _line_of(plan: Plan, key: FileKey) -> int:
    file, (rule, message) = key
    lines = [
        e.line for f, fix in plan.values() if f == file for e, m, _ in fix.applied if (e.rule, m) == (rule, message)
    ]
    return lines[0] if lines else 0


def _why_failed(trial: Trial) -> str:
    if trial.lost:
        return f"it would hide escalation(s) {', '.join(trial.lost)}; a human must decide them"
    return f"the rehearsal failed with it: {trial.rehearsal.failure}"


async def apply_fixes(
    project: Project,
    first: ReviewMigrationResult,
    review_again: Review,
    rehearse: Rehearse,
    diff_only: bool = False,
    split: bool = False,
) -> ReviewMigrationResult:
    """Fix the files ``first`` reviewed, check each fix, keep those that pass; see the module docstring."""
    if not diff_only:
        refuse_if_read_only(project, "rewrite migration files", "Pass diff_only (CLI --diff) to see the fixes.")
    fixer = await anyio.to_thread.run_sync(lambda: Fixer(project, first, review_again, rehearse, split))
    full = fixer.plan()
    report = _report(first, full)
    if diff_only or not _keys(full):
        report.rehearsal = "not run: nothing was written" if _keys(full) else "not run: no mechanical fix applies"
        return first.model_copy(update={"autofix": report})
    fixer.set_range(full)
    try:
        kept, undone, rehearsal = await _keep_what_passes(fixer, full)
    except BaseException:
        fixer.written.restore()  # an error or a cancelled call: nothing unchecked stays in the files
        raise
    return _result(first, fixer, report, kept, undone, rehearsal)


async def _keep_what_passes(fixer: Fixer, full: Plan) -> tuple[Trial | None, list[tuple[FileKey, str, int]], str]:
    """The trial whose fixes stay (None: none), the fixes undone with why, and what the rehearsal proved."""
    everything = await fixer.check(_keys(full), full)
    if everything.rehearsal.not_run is not None and not everything.lost:
        return everything, [], NOT_REHEARSED.format(why=everything.rehearsal.not_run.rstrip("."))
    if everything.passes(None):
        return everything, [], "the changed revisions rehearsed cleanly"
    baseline = await fixer.baseline()
    if everything.passes(baseline):
        fixer.written.write(everything.plan)  # the baseline put the original files back
        return everything, [], _fails_as_before(baseline, everything.rehearsal)
    kept: Trial | None = None
    undone: list[tuple[FileKey, str, int]] = []
    tried: set[FileKey] = set()
    queue = _keys(full)
    while queue:  # one fix at a time; undoing one can make another applicable (it is tried next)
        for key in queue:
            tried.add(key)
            trial = await fixer.check([*(kept.keys if kept else []), key])
            if trial.passes(baseline):
                kept = trial
            else:
                undone.append((key, _why_failed(trial), _line_of(trial.plan, key)))
        probe = fixer.plan(skip=[key for key, _, _ in undone])
        queue = [key for key in _keys(probe) if key not in tried]
    if kept is None:
        fixer.written.restore()
        return None, undone, "every fix failed its checks and was undone"
    fixer.written.write(kept.plan)
    clean = kept.rehearsal.failure is None
    return kept, undone, "the kept fixes rehearsed cleanly" if clean else _fails_as_before(baseline, kept.rehearsal)


NOT_REHEARSED = (
    "not run: {why}; the fixes are kept and reviewed, not rehearsed: rehearse them (test_roundtrip) once it can run"
)


def _fails_as_before(baseline: Rehearsal, fixed: Rehearsal) -> str:
    if gets_further(fixed, baseline):
        return (
            f"the fixes get past what failed without them ({baseline.failure}), and the step now fails on the rows' "
            f"values ({fixed.failure}): the fixes are kept; the file still fails: make the conversion handle "
            "those rows (a human decides what they become), then rehearse again"
        )
    return (
        f"the rehearsal fails the same way without the fixes ({baseline.failure}); the fixes did not cause it and "
        "are kept, reviewed, but not proven by this rehearsal: fix what fails, then rehearse again"
    )


def _result(
    first: ReviewMigrationResult,
    fixer: Fixer,
    report: AutofixReport,
    kept: Trial | None,
    undone: list[tuple[FileKey, str, int]],
    rehearsal: str,
) -> ReviewMigrationResult:
    report.undone = [UndoneFix(rule=key[0], file=file, line=line, reason=why) for (file, key), why, line in undone]
    report.rehearsal = rehearsal
    if kept is None:
        report.applied, report.restored = [], True
        first = _own_fixes_failed(first, undone)
        return _with_finding(first, report, f"Every fix was undone: {'; '.join(u.reason for u in report.undone)}")
    checked = (
        "reviewed, not rehearsed"
        if kept.rehearsal.not_run is not None
        else "reviewed and rehearsed cleanly"
        if kept.rehearsal.failure is None
        else "reviewed; the rehearsal fails (see rehearsal)"
    )
    deploy = kept.rehearsal.deploy
    report.applied = [
        a for revision, (file, fix) in kept.plan.items() for a in _applied(file, fix, checked, revision, deploy)
    ]
    report.written, report.files_to_commit = True, fixer.written.changed_files()
    # the mechanical fixes were just applied: what remains is in not_applied, with why
    steps = [step for step in kept.review.next_steps if step != MECHANICAL_HINT]
    result = kept.review.model_copy(update={"autofix": report, "next_steps": steps})
    if kept.rehearsal.failure is not None:
        result = _fails_rehearsal(result, kept.rehearsal.failure)
    if report.undone:
        result = _own_fixes_failed(result, undone)
        undone_text = "; ".join(f"{u.rule} (line {u.line}): {u.reason}" for u in report.undone)
        return _with_finding(result, report, f"{len(report.undone)} fix(es) undone, the others kept: {undone_text}")
    return result


FIX_FAILED_MARK = "(autofix: its fix failed.)"
OWN_FIX_FAILED = (
    "The tool's own fix for this finding failed its checks and was undone ({reason}): do not apply it as "
    "written. Find what made it fail (test_roundtrip names the failing statement; data_from='target' when the "
    "target's rows may be the cause), fix that by hand, then review again."
)


def _own_fixes_failed(result: ReviewMigrationResult, undone: list[tuple[FileKey, str, int]]) -> ReviewMigrationResult:
    """The findings whose fix autofix applied and undid say that the tool's own fix failed, and neither their
    fix nor the next steps offer that fix's code again. A finding is matched by file, rule and the message
    the fix was keyed by (the database's facts may have added to it; the kept fixes may have moved its line)."""
    findings, replaced = [], {}
    for finding in result.findings:
        reason = _undone_reason(finding, undone)
        if reason is not None:
            said = f"{finding.message} {FIX_FAILED_MARK}"
            finding = finding.model_copy(update={"message": said, "fix": OWN_FIX_FAILED.format(reason=reason)})
            replaced[f"[{finding.rule}] {finding.file}:{finding.line}:"] = finding.fix
        findings.append(finding)
    steps = [
        next((f"{head} {fix}" for head, fix in replaced.items() if step.startswith(head)), step)
        for step in result.next_steps
    ]
    offered = any(
        f.severity == "error" and f.rule in AUTO_FIXABLE and FIX_FAILED_MARK not in f.message for f in findings
    )
    steps = [step for step in steps if step != MECHANICAL_HINT or offered]
    return result.model_copy(update={"findings": findings, "next_steps": steps})


def _undone_reason(finding: Finding, undone: list[tuple[FileKey, str, int]]) -> str | None:
    for (file, (rule, keyed_by)), why, _ in undone:
        if (file, rule) == (finding.file, finding.rule) and finding.message.startswith(keyed_by):
            return why
    return None


def _fails_rehearsal(result: ReviewMigrationResult, failure: str) -> ReviewMigrationResult:
    """The migration fails to run, fixes or not: that comes before any other step, escalations included."""
    finding = Finding(
        rule="migration-fails-rehearsal",
        severity="error",
        message=f"The migration still fails its rehearsal after the fixes: {failure.rstrip('.')}.",
        fix="Fix what fails (test_roundtrip names the failing statement, its file:line and the fix), then "
        "review again.",
    )
    findings = [*result.findings, finding]
    steps = [
        f"First make the migration run: {failure.rstrip('.')}. test_roundtrip shows where and how.",
        *result.next_steps,
    ]
    return result.model_copy(
        update={"findings": findings, "next_steps": steps, "verdict": decide(findings, result.escalations)}
    )


def _with_finding(base: ReviewMigrationResult, report: AutofixReport, message: str) -> ReviewMigrationResult:
    finding = Finding(rule="autofix-failed", severity="error", message=message)
    findings = [*base.findings, finding]
    verdict = decide(findings, base.escalations)
    return base.model_copy(update={"autofix": report, "findings": findings, "verdict": verdict})


async def fix_and_review(
    project: Project, review: Review, rehearse: Rehearse, diff_only: bool = False, split: bool = False
) -> ReviewMigrationResult:
    """The review, then its mechanical fixes applied and verified (review_migration(apply_fixes=true))."""
    if not diff_only:
        refuse_if_read_only(project, "rewrite migration files", "Pass diff_only (CLI --diff) to see the fixes.")
    return await apply_fixes(project, await review(), review, rehearse, diff_only, split)


async def no_rehearsal(project: Project, revision: str, from_revision: str | None) -> Rehearsal:
    """For diff_only: nothing is written, so nothing is rehearsed."""
    return Rehearsal("no rehearsal function was given")
