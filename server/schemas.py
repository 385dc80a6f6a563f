"""Lean published schemas: what ``tools/list`` costs an agent on every conversation, kept small.

pydantic's schemas repeat titles, ``default: null`` and every nested model of every result; listed for
seven tools they made a 71 kB tool list. Each published output schema keeps the verdict fields typed
(verdict, escalate_to_human, escalations, findings, approvals, summary, next_steps) and allows, without
listing, the fields only one tool returns. Definitions cannot be shared across tools: a client resolves
``$ref`` only inside one schema document (mcp's validator has an empty registry), and inside one schema
each verdict definition is used once, so they are inlined. The full schema of every result, with its
descriptions, is the resource ``alembic://reference/{tool}`` (server/resources.py). The server still
validates each result against its full pydantic model; the lean schema accepts every valid result.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import MCPServer

VERDICT_FIELDS = ("verdict", "escalate_to_human", "escalations", "findings", "approvals", "summary", "next_steps")
VERDICT_DEFS = ("Escalation", "Finding", "Approval")
DEFS_PREFIX = "#/$defs/"
SCHEMA_MAPS = {"properties", "$defs"}  # keywords whose values map names to schemas
NOISE = {"title"}


def strip_noise(node: Any, drop: set[str]) -> Any:
    """``node`` without the keywords in ``drop`` (never a property that happens to share the name)."""
    if isinstance(node, list):
        return [strip_noise(item, drop) for item in node]
    if not isinstance(node, dict):
        return node
    kept: dict[str, Any] = {}
    for key, value in node.items():
        if key in drop:
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            kept[key] = {name: strip_noise(sub, drop) for name, sub in value.items()}
        else:
            kept[key] = strip_noise(value, drop)
    if "enum" in kept and isinstance(kept.get("type"), str):
        del kept["type"]  # implied by the enum's values
    if "default" in kept and kept["default"] is None:
        del kept["default"]  # an optional argument's absence already means None
    return _nullable_as_type_list(kept)


def _nullable_as_type_list(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [{type: T}, {type: null}]`` written as ``type: [T, null]``."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return schema
    other = next(option for option in options if option != {"type": "null"})
    if set(other) != {"type"} or not isinstance(other["type"], str):
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**rest, "type": [other["type"], "null"]}


def _rule_as_text(defs: dict[str, Any]) -> None:
    """Escalation rule ids typed as strings: their 13-value enum, repeated in every tool, is in the reference."""
    for name in ("Escalation", "Approval"):
        rule = defs.get(name, {}).get("properties", {}).get("rule")
        if rule and "enum" in rule:
            defs[name]["properties"]["rule"] = {"type": "string"}


def _all_text_fields(definition: dict[str, Any]) -> dict[str, Any]:
    """A model whose fields are all required: its string fields typed once through additionalProperties."""
    properties = definition.get("properties", {})
    if set(definition.get("required", [])) != set(properties):
        return definition
    special = {name: prop for name, prop in properties.items() if prop != {"type": "string"}}
    return {**definition, "properties": special, "additionalProperties": {"type": "string"}}


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every ``$ref`` into ``defs`` replaced by the definition (each is used once per schema)."""
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(DEFS_PREFIX):
        return _inline_refs(defs[ref.removeprefix(DEFS_PREFIX)], defs)
    return {key: _inline_refs(value, defs) for key, value in node.items()}


def lean_verdict_defs(full: dict[str, Any]) -> dict[str, Any]:
    """Escalation, Finding and Approval without titles, descriptions and defaults, written compactly."""
    defs = full.get("$defs", {})
    lean = {name: strip_noise(defs[name], NOISE | {"description", "default"}) for name in VERDICT_DEFS}
    _rule_as_text(lean)
    lean["Escalation"]["properties"]["evidence"] = {"type": "object"}
    lean["Approval"] = _all_text_fields(lean["Approval"])
    return lean


def lean_output_schema(full: dict[str, Any]) -> dict[str, Any]:
    """The published output schema: the verdict fields, typed; a tool's own fields are allowed, not listed."""
    verdict_defs = lean_verdict_defs(full)
    properties = {
        name: _inline_refs(strip_noise(prop, NOISE | {"default", "description"}), verdict_defs)
        for name, prop in full["properties"].items()
        if name in VERDICT_FIELDS
    }
    required = [name for name in full.get("required", []) if name in VERDICT_FIELDS]
    return {"type": "object", "properties": properties, "required": required}


def lean_input_schema(full: dict[str, Any]) -> dict[str, Any]:
    """The published input schema without pydantic's generated titles (descriptions and limits stay)."""
    return strip_noise(full, NOISE)


def full_output_schemas(server: MCPServer) -> dict[str, dict[str, Any]]:
    """Every registered tool's complete output schema, as pydantic writes it (for the schema resource)."""
    return {
        tool.name: tool.fn_metadata.output_model.model_json_schema(mode="serialization")
        for tool in server._tool_manager.list_tools()
        if tool.fn_metadata.output_model is not None
    }


def publish_lean_schemas(server: MCPServer) -> None:
    """Replace every registered tool's published input and output schema by its lean form.

    There is no public hook for this in MCPServer (as in arguments.py); Tool caches ``output_schema``,
    so the cached value is dropped too.
    """
    for tool in server._tool_manager.list_tools():
        tool.parameters = lean_input_schema(tool.parameters)
        if tool.fn_metadata.output_schema is not None:
            tool.fn_metadata.output_schema = lean_output_schema(tool.fn_metadata.output_schema)
            tool.__dict__.pop("output_schema", None)


def tools_list_size(tools: list[Any]) -> int:
    """Bytes of a ``tools/list`` result's tools as compact JSON, the way they travel."""
    dumped = [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in tools]
    return len(json.dumps({"tools": dumped}, separators=(",", ":")).encode())
