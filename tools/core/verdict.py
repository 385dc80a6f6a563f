"""The verdict every tool returns: the shared pydantic base model and how findings become a verdict."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alembic_mcp.tools.core.policy import EscalationRule

VerdictKind = Literal["proceed", "fix", "escalate"]
Severity = Literal["info", "warning", "error"]


class Finding(BaseModel):
    """One observation. ``severity == "error"`` means the agent must fix it before going on."""

    rule: str = Field(description="Stable rule id, e.g. add-column-required or missing-parent.")
    severity: Severity = Field(description="error: must be fixed; warning: advisory; info: context.")
    message: str = Field(description="What was found, in one sentence.")
    file: str | None = Field(default=None, description="File the finding is about, relative to the project.")
    line: int | None = Field(default=None, description="1-based line in that file.")
    table: str | None = None
    column: str | None = None
    why: str | None = Field(default=None, description="Why it matters for this database and its data.")
    fix: str | None = Field(default=None, description="The concrete fix: code or a command.")


class Escalation(BaseModel):
    """A reason a human must decide, tied to one of the skill's escalation rules."""

    rule: EscalationRule
    reason: str
    evidence: dict[str, Any] = Field(default_factory=dict)


def _verdict_fields_required(schema: dict[str, Any]) -> None:
    """verdict and escalate_to_human are derived when not given, yet always present in a result."""
    required = schema.setdefault("required", [])
    for name in ("escalate_to_human", "verdict"):
        if name not in required:
            required.insert(0, name)


class Approval(BaseModel):
    """A human's approval of one escalation, bound to the migration file's bytes and the evidence."""

    revision: str
    rule: EscalationRule
    reason: str = Field(description="Why the human approved, in their words.")
    approved_by: str = Field(description="Who approved (git user or OS user; the MCP client's user for elicitation).")
    approved_at: str = Field(description="When, UTC, ISO 8601.")
    via: Literal["cli", "elicitation"] = Field(description="alembic-mcp approve in a terminal, or MCP elicitation.")
    file: str = Field(description="The migration file, relative to the project.")
    file_sha256: str = Field(description="sha256 of the file when approved: any edit voids the approval.")
    evidence_sha256: str = Field(description="sha256 of the escalation's rule and evidence when approved.")


class VerdictResult(BaseModel):
    """Fields every tool result carries."""

    model_config = ConfigDict(json_schema_extra=_verdict_fields_required)

    # The defaults are placeholders: _derive_verdict always sets both from the findings and escalations.
    verdict: VerdictKind = Field(
        default="proceed",
        description="proceed: safe to go on; fix: a mechanical problem the findings explain; "
        "escalate: stop and ask a human, giving the escalations.",
    )
    escalate_to_human: bool = Field(default=False, description="True exactly when verdict is escalate.")
    escalations: list[Escalation] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    approvals: list[Approval] = Field(
        default_factory=list,
        description="Escalations a human approved for exactly these files (alembic-mcp approve or elicitation); "
        "they no longer count against the verdict.",
    )
    summary: str = Field(description="One sentence an agent can relay to a human.")
    next_steps: list[str] = Field(default_factory=list, description="What to do next, in order.")

    @model_validator(mode="before")
    @classmethod
    def _derive_verdict(cls, data: Any) -> Any:
        if isinstance(data, dict) and "verdict" not in data:
            data = dict(data)
            data["verdict"] = decide(data.get("findings", []), data.get("escalations", []))
        if isinstance(data, dict) and "escalate_to_human" not in data:
            data = dict(data)
            data["escalate_to_human"] = data["verdict"] == "escalate"
        return data

    @model_validator(mode="after")
    def _consistent(self) -> VerdictResult:
        if self.escalate_to_human != (self.verdict == "escalate"):
            raise ValueError("escalate_to_human must be true exactly when verdict is escalate")
        if self.verdict == "escalate" and not self.escalations:
            raise ValueError("an escalate verdict needs at least one escalation")
        return self


def _severity(item: Any) -> str:
    return item.severity if isinstance(item, Finding) else item.get("severity", "info")


def decide(findings: list[Any], escalations: list[Any]) -> VerdictKind:
    """The escalation policy: escalate on any escalation, fix on any error finding, else proceed."""
    if escalations:
        return "escalate"
    if any(_severity(f) == "error" for f in findings):
        return "fix"
    return "proceed"
