"""What apply_fixes reports: each applied fix with its diff, what stayed advice and why, the files to commit."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AppliedFix(BaseModel):
    rule: str
    file: str = Field(description="Migration file, relative to the project.")
    line: int = Field(description="Line of the finding before the fix.")
    message: str = Field(description="The finding the edit fixed.")
    diff: str = Field(description="Unified diff of this edit.")


class NotApplied(BaseModel):
    rule: str
    file: str
    line: int | None = None
    reason: str = Field(description="Why no edit was made: the choice a human must make.")


class AutofixReport(BaseModel):
    written: bool = Field(description="The fixes are in the files (false: diff only, refused or restored).")
    applied: list[AppliedFix] = Field(default_factory=list)
    not_applied: list[NotApplied] = Field(default_factory=list)
    files_to_commit: list[str] = Field(default_factory=list)
    rehearsal: str = Field(default="", description="What the rehearsal of the changed revisions found.")
    restored: bool = Field(default=False, description="The files were put back as they were (a check failed).")
