"""Asking the human directly through MCP elicitation, when the client supports it."""

from __future__ import annotations

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field


class Confirmation(BaseModel):
    confirm: bool = Field(description="Yes: go ahead. No: stop.")


async def confirm_with_human(ctx: Context, question: str) -> bool:
    """True only when the client can elicit and the human accepted with confirm=true."""
    caps = ctx.client_capabilities
    if caps is None or getattr(caps, "elicitation", None) is None:
        return False
    try:
        answer = await ctx.elicit(question, Confirmation)
    except Exception:
        return False
    accepted = getattr(answer, "action", None) == "accept"
    return accepted and bool(getattr(getattr(answer, "data", None), "confirm", False))
