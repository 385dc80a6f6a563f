"""What apply_fixes reports: each fix kept (with its diff and how it was checked), each fix undone and why,
what stayed advice and why, the files to commit."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AppliedFix(BaseModel):
    rule: str
    file: str = Field(description="Migration file, relative to the project.")
    line: int = Field(description="Line of the finding before the fix.")
    message: str = Field(description="The finding the edit fixed.")
    diff: str = Field(description="Unified diff of this edit.")
    checked: str = Field(default="", description="How the kept fix was checked (see rehearsal).")
    note: str | None = Field(default=None, description="What the fix depends on (how env.py deploys a VALIDATE).")


class UndoneFix(BaseModel):
    rule: str
    file: str
    line: int
    reason: str = Field(description="Why the written fix was put back: the escalation it hid or the failure it caused.")


class NotApplied(BaseModel):
    rule: str
    file: str
    line: int | None = None
    reason: str = Field(description="Why no edit was made: the choice a human must make.")


class AutofixReport(BaseModel):
    written: bool = Field(description="Fixes are in the files (false: diff only, refused, or every one undone).")
    applied: list[AppliedFix] = Field(default_factory=list, description="The fixes kept in the files.")
    undone: list[UndoneFix] = Field(default_factory=list, description="Fixes written, checked, and put back.")
    not_applied: list[NotApplied] = Field(default_factory=list)
    files_to_commit: list[str] = Field(default_factory=list)
    rehearsal: str = Field(default="", description="What the rehearsal of the changed revisions found.")
    restored: bool = Field(default=False, description="Every file was put back as it was (no fix passed its checks).")
