"""``review_migration(apply_fixes=true)``: review, fix the selected revisions' files with the mechanical
fixes, then review again and rehearse the changed revisions; any failed check puts every file back.

Files are written atomically (a temporary file beside the migration, fsync, rename) and only inside the
versions directories; every rewritten file must parse and be a plain module. An applied fix may not
make an escalation disappear: the second review must keep every escalation of the first.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from alembic_mcp.tools.core.access import refuse_if_read_only
from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import InvalidArgument
from alembic_mcp.tools.core.verdict import Finding, decide
from alembic_mcp.tools.history.files import history_from_files
from alembic_mcp.tools.review.autofix.model_defaults import model_defaults
from alembic_mcp.tools.review.autofix.plan import ANSWERED_ESCALATION, AUTO_FIXABLE, FileFix, FixContext, fix_source
from alembic_mcp.tools.review.autofix.result import AppliedFix, AutofixReport, NotApplied
from alembic_mcp.tools.review.pipeline import env_sets_lock_timeout
from alembic_mcp.tools.review.result import ReviewedRevision, ReviewMigrationResult
from alembic_mcp.tools.worker.ops.plain_module import NotPlainModule, check_plain_module

# Rehearse the revisions from ``from_revision`` (exclusive) to ``revision``: None when they rehearse
# cleanly, else what failed. Supplied by the caller (the roundtrip tool is a peer family).
Rehearse = Callable[[Project, str, str | None], Awaitable[str | None]]
Review = Callable[[], Awaitable[ReviewMigrationResult]]


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


def _fix_revision(
    project: Project, first: ReviewMigrationResult, revision: ReviewedRevision, models, split: bool
) -> FileFix:
    wanted = frozenset(
        f.rule for f in first.findings if f.file == revision.file and f.severity != "info" and f.rule in AUTO_FIXABLE
    )
    path = _versions_file(project, revision.file)
    source = path.read_text(encoding="utf-8")
    split = split and revision.revision in _heads(project)
    ctx = FixContext(revision.file, first.database.backend, wanted, models, env_sets_lock_timeout(project), split)
    fixed = fix_source(source, ctx)
    if fixed.after != source:
        try:
            check_plain_module(fixed.after, revision.file)
        except NotPlainModule as exc:
            fixed.advice.append(("autofix", None, f"the fixed file would not be a plain module: {exc}"))
            fixed.after, fixed.applied = source, []
    return fixed


def _report(first: ReviewMigrationResult, fixes: dict[str, FileFix]) -> AutofixReport:
    report = AutofixReport(written=False)
    for file, fix in fixes.items():
        report.applied += [
            AppliedFix(rule=e.rule, file=file, line=e.line, message=m, diff=d) for e, m, d in fix.applied
        ]
        report.not_applied += [NotApplied(rule=r, file=file, line=n, reason=why) for r, n, why in fix.advice]
    fixed_rules = {(a.file, a.rule) for a in report.applied} | {(n.file, n.rule) for n in report.not_applied}
    for finding in first.findings:
        if finding.severity == "error" and finding.file and (finding.file, finding.rule) not in fixed_rules:
            report.not_applied.append(
                NotApplied(rule=finding.rule, file=finding.file, line=finding.line, reason=_why_not(finding))
            )
    return report


def _why_not(finding: Finding) -> str:
    from alembic_mcp.tools.review.autofix.plan import HUMAN_CHOICE

    return HUMAN_CHOICE.get(finding.rule, "no mechanical fix: follow the finding's fix text")


def _lost_escalations(first: ReviewMigrationResult, second: ReviewMigrationResult, report: AutofixReport) -> list[str]:
    """Escalation rules the second review has fewer of, beyond those an applied fix answers itself."""
    before: Counter[str] = Counter(e.rule for e in first.escalations)
    after: Counter[str] = Counter(e.rule for e in second.escalations)
    before.subtract(ANSWERED_ESCALATION[a.rule] for a in report.applied if a.rule in ANSWERED_ESCALATION)
    return sorted(rule for rule, count in before.items() if after[rule] < count)


class Written:
    """The files one apply_fixes call wrote: the originals to put back, the new revisions to remove."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.originals: dict[Path, str] = {}
        self.created: list[Path] = []
        self.last_new: str | None = None  # the last new revision (split=true)

    def rewrite(self, file: str, fix: FileFix, revision: str) -> None:
        path = _versions_file(self.project, file)
        self.originals[path] = fix.before
        write_atomically(path, fix.after)
        down = revision
        for new in fix.new_revisions:
            created = path.parent / new.file_name()
            write_atomically(created, new.source(down))
            self.created.append(created)
            down = self.last_new = new.revision

    def files(self) -> list[str]:
        return sorted(self.project.relative(p) for p in [*self.originals, *self.created])

    def restore(self) -> None:
        for path, text in self.originals.items():
            write_atomically(path, text)
        for path in self.created:
            path.unlink(missing_ok=True)


async def apply_fixes(
    project: Project,
    first: ReviewMigrationResult,
    review_again: Review,
    rehearse: Rehearse,
    diff_only: bool = False,
    split: bool = False,
) -> ReviewMigrationResult:
    """Fix the files ``first`` reviewed, check the result, and report; see the module docstring."""
    if not diff_only:
        refuse_if_read_only(project, "rewrite migration files", "Pass diff_only (CLI --diff) to see the fixes.")
    models = await anyio.to_thread.run_sync(model_defaults, project)
    fixes = {r.revision: (r.file, _fix_revision(project, first, r, models, split)) for r in first.revisions}
    report = _report(first, dict(fixes.values()))
    changed = {rev: (file, fix) for rev, (file, fix) in fixes.items() if fix.after != fix.before}
    if diff_only or not changed:
        report.rehearsal = "not run: nothing was written" if changed else "not run: no mechanical fix applies"
        return first.model_copy(update={"autofix": report})
    written = Written(project)
    for rev, (file, fix) in changed.items():
        written.rewrite(file, fix, rev)
    report.written, report.files_to_commit = True, written.files()
    outcome = await _verify(project, first, review_again, rehearse, report, written.last_new)
    if isinstance(outcome, ReviewMigrationResult):
        report.rehearsal = "the changed revisions rehearsed cleanly"
        return outcome.model_copy(update={"autofix": report})
    written.restore()
    return _undone(first, report, outcome)


def _undone(first: ReviewMigrationResult, report: AutofixReport, failure: str) -> ReviewMigrationResult:
    report.written, report.restored, report.files_to_commit, report.rehearsal = False, True, [], failure
    finding = Finding(rule="autofix-failed", severity="error", message=f"The fixes were undone: {failure}")
    findings = [*first.findings, finding]
    verdict = decide(findings, first.escalations)
    return first.model_copy(update={"autofix": report, "findings": findings, "verdict": verdict})


async def fix_and_review(
    project: Project, review: Review, rehearse: Rehearse, diff_only: bool = False, split: bool = False
) -> ReviewMigrationResult:
    """The review, then its mechanical fixes applied and verified (review_migration(apply_fixes=true))."""
    if not diff_only:
        refuse_if_read_only(project, "rewrite migration files", "Pass diff_only (CLI --diff) to see the fixes.")
    return await apply_fixes(project, await review(), review, rehearse, diff_only, split)


async def _verify(
    project: Project,
    first: ReviewMigrationResult,
    review_again: Review,
    rehearse: Rehearse,
    report: AutofixReport,
    last: str | None,
) -> ReviewMigrationResult | str:
    """The second review when every check passes, else what failed."""
    changed = report.files_to_commit
    second = await review_again()
    lost = _lost_escalations(first, second, report)
    if lost:
        return f"the fixes would hide escalation(s) {', '.join(lost)}; a human must decide them."
    revisions = [r for r in first.revisions if r.file in changed]
    lower = revisions[0].down_revisions[0] if revisions[0].down_revisions else None
    failure = await rehearse(project, last or revisions[-1].revision, lower)
    return second if failure is None else f"the rehearsal failed: {failure}"


async def no_rehearsal(project: Project, revision: str, from_revision: str | None) -> str | None:
    """For diff_only: nothing is written, so nothing is rehearsed."""
    return "no rehearsal function was given"
