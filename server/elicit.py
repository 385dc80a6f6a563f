"""Asking the human directly through MCP elicitation, when the client supports it.

Uses the SDK's ``Resolve``/``Elicit`` so the question travels the way the negotiated protocol wants:
a standalone ``elicitation/create`` request (handshake era) or an ``InputRequiredResult`` round
(2026-07-28 and later).
"""

from __future__ import annotations

from mcp.server.elicitation import AcceptedElicitation
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field


class Confirmation(BaseModel):
    confirm: bool = Field(description="Yes: go ahead. No: stop.")


class EscalationApproval(BaseModel):
    approve: bool = Field(description="Yes: I, a human, approve these escalations for the files as they are now.")
    reason: str = Field(default="", description="Why it is acceptable; recorded in the approvals log.")


def client_can_elicit(ctx: Context) -> bool:
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def client_name(ctx: Context) -> str:
    try:
        params = ctx.session.client_params
        return params.client_info.name if params is not None else "unknown client"
    except AttributeError:
        return "unknown client"


def approval_reason(outcome: object) -> str | None:
    """The human's reason when they accepted and approved; None for anything else."""
    if isinstance(outcome, AcceptedElicitation):
        outcome = outcome.data
    if isinstance(outcome, EscalationApproval) and outcome.approve and outcome.reason.strip():
        return outcome.reason.strip()
    return None


def human_said_yes(outcome: object) -> bool:
    """True only for an accepted elicitation whose form says confirm=true."""
    if isinstance(outcome, AcceptedElicitation):
        outcome = outcome.data
    return isinstance(outcome, Confirmation) and outcome.confirm
