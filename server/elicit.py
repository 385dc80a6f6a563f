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


def client_can_elicit(ctx: Context) -> bool:
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def human_said_yes(outcome: object) -> bool:
    """True only for an accepted elicitation whose form says confirm=true."""
    if isinstance(outcome, AcceptedElicitation):
        outcome = outcome.data
    return isinstance(outcome, Confirmation) and outcome.confirm
